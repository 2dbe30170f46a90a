import { expect } from "chai";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeFakeNvidiaPki } from "../../operator/src/attestation/simulated/nvidia-pki.ts";
import {
  DEFAULT_TOKEN_FILE,
  GuestConfigError,
  guestConnection,
  loadGuestConfig,
  validateGuestConfig,
} from "./config.ts";

const CA_PEM = makeFakeNvidiaPki().root.certificate.toString();
const VALID = {
  apiServer: "https://10.0.0.1:6443",
  caData: Buffer.from(CA_PEM).toString("base64"),
  namespace: "team-a",
  name: "llm-inference",
  tokenFile: "/var/run/trustgate/token",
};

function problems(document: unknown): string[] {
  try {
    validateGuestConfig(document, "guest.json");
  } catch (error) {
    if (error instanceof GuestConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe("guest config", () => {
  it("accepts a complete config and decodes the CA", () => {
    const config = validateGuestConfig(VALID, "guest.json");
    const { apiServer, namespace, name, tokenFile } = VALID;
    expect(config).to.deep.equal({ apiServer, caPem: CA_PEM, namespace, name, tokenFile });
  });

  it("defaults the token file", () => {
    const withoutToken: Partial<typeof VALID> = { ...VALID };
    delete withoutToken.tokenFile;
    expect(validateGuestConfig(withoutToken, "guest.json").tokenFile).to.equal(DEFAULT_TOKEN_FILE);
  });

  it("names every problem at once", () => {
    expect(
      problems({
        apiServer: "http://10.0.0.1",
        caData: "not base64!",
        namespace: "Team_A",
        name: "",
        tokenFile: "token",
        apiserver: "typo",
      }),
    ).to.deep.equal([
      'unknown field "apiserver" (known: apiServer, caData, namespace, name, tokenFile)',
      'apiServer "http://10.0.0.1" must be an https URL',
      "caData is not base64",
      'namespace "Team_A" is not a valid namespace name',
      "name is required",
      'tokenFile "token" must be an absolute path',
    ]);
  });

  it("explains a CA that is base64 but no certificate, a wrong type and a non-object", () => {
    expect(problems({ ...VALID, caData: Buffer.from("hello").toString("base64") })).to.deep.equal([
      "caData does not decode to PEM certificates",
    ]);
    expect(
      problems({
        ...VALID,
        caData: Buffer.from("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").toString(
          "base64",
        ),
      }),
    ).to.deep.equal(["caData holds a PEM block that is not a valid certificate"]);
    expect(problems({ ...VALID, namespace: 7 })).to.deep.equal(["namespace must be a string"]);
    expect(problems([])).to.deep.equal(["must be a JSON object"]);
    expect(problems({ ...VALID, apiServer: "not a url" })).to.deep.equal([
      'apiServer "not a url" is not a URL',
    ]);
  });

  it("reads a file, and says which file cannot be read or parsed", async () => {
    const dir = await mkdtemp(join(tmpdir(), "trustgate-guest-config-"));
    try {
      await writeFile(join(dir, "ok.json"), JSON.stringify(VALID));
      await writeFile(join(dir, "bad.json"), "{");
      expect((await loadGuestConfig(join(dir, "ok.json"))).name).to.equal("llm-inference");
      const message = async (path: string): Promise<string> =>
        loadGuestConfig(path).then(
          () => "loaded",
          (error: unknown) => (error as Error).message,
        );
      expect(await message(join(dir, "bad.json"))).to.match(/^guest config .*bad\.json: is not JSON/);
      expect(await message(join(dir, "missing.json"))).to.match(
        /^guest config .*missing\.json: cannot be read/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("connects with the configured CA and the token file, never a token copy", () => {
    const connection = guestConnection(validateGuestConfig(VALID, "guest.json"), "guest.json");
    expect(connection).to.deep.include({ server: VALID.apiServer, ca: CA_PEM, namespace: "team-a" });
    expect(connection.bearer).to.deep.equal({ tokenFile: VALID.tokenFile });
  });
});
