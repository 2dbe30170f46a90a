import { expect } from "chai";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "../../test/support/samples.ts";
import { signAttestationResult, type ResultInput } from "../attestation/result/result-token.ts";
import { generateSigningKey, publicJwks, type StoredSigningKey } from "../attestation/result/signing-keys.ts";

const MAIN = join(REPO_ROOT, "operator/src/cmd/main.ts");
const T0 = new Date("2026-11-25T10:00:00Z");

function trustgate(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, stdout, stderr });
    });
  });
}

/** The result trustgate signs for team-a/llm at T0, valid for an hour. */
function anAffirmingResult(
  key: StoredSigningKey,
  claims: Pick<ResultInput, "guestKeyThumbprint" | "tee" | "policy">,
): Promise<string> {
  return signAttestationResult(
    {
      issuer: "https://trustgate.example/",
      subject: "team-a/llm",
      nonce: "11".repeat(32),
      verdict: "affirming",
      submods: {},
      issuedAt: T0,
      expiresAt: new Date(T0.getTime() + 3_600_000),
      ...claims,
    },
    key,
  );
}

describe("trustgate verify-token (the CLI as a process)", function () {
  this.timeout(30_000);
  const dir = mkdtempSync(join(tmpdir(), "trustgate-token-"));
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("accepts a valid affirming result (exit 0) and refuses it once expired (exit 1)", async () => {
    const key = await generateSigningKey(T0);
    const token = await anAffirmingResult(key, { guestKeyThumbprint: "abc" });
    writeFileSync(join(dir, "jwks.json"), JSON.stringify(publicJwks([key])));
    writeFileSync(join(dir, "token.jwt"), token);
    const valid = await trustgate([
      "verify-token",
      `@${join(dir, "token.jwt")}`,
      "--jwks",
      join(dir, "jwks.json"),
      "--at",
      "2026-11-25T10:30:00Z",
    ]);
    expect(valid.code).to.equal(0);
    expect(JSON.parse(valid.stdout)).to.deep.include({ valid: true });
    const expired = await trustgate([
      "verify-token",
      token,
      "--jwks",
      join(dir, "jwks.json"),
      "--at",
      "2026-11-25T12:00:00Z",
    ]);
    expect(expired.code).to.equal(1);
    expect((JSON.parse(expired.stdout) as { reason: string }).reason).to.match(/exp/);
  });

  it("refuses a valid result of another CVM, key, TEE or policy when the client says whose it expects", async () => {
    const key = await generateSigningKey(T0);
    const token = await anAffirmingResult(key, {
      guestKeyThumbprint: "jkt-of-llm",
      tee: { type: "snp", product: "Genoa" },
      policy: { name: "production", uid: "uid-prod", generation: 3 },
    });
    writeFileSync(join(dir, "jwks-expect.json"), JSON.stringify(publicJwks([key])));
    const run = (extra: string[]) =>
      trustgate([
        "verify-token",
        token,
        "--jwks",
        join(dir, "jwks-expect.json"),
        "--at",
        "2026-11-25T10:30:00Z",
        ...extra,
      ]);
    const matching = await run([
      "--subject",
      "team-a/llm",
      "--jkt",
      "jkt-of-llm",
      "--tee",
      "snp",
      "--policy-uid",
      "uid-prod",
    ]);
    expect(matching.code, matching.stdout).to.equal(0);
    const refusals: [string[], string][] = [
      [["--subject", "team-a/other"], "subject"],
      [["--jkt", "someone-elses-key"], "cnf.jkt"],
      [["--tee", "tdx"], "TEE"],
      [["--policy-uid", "uid-lax"], "policy uid"],
    ];
    for (const [flags, named] of refusals) {
      const refused = await run(flags);
      expect(refused.code, flags.join(" ")).to.equal(1);
      expect((JSON.parse(refused.stdout) as { reason: string }).reason).to.include(named);
    }
    expect((await run(["--tee", "sev"])).code).to.equal(2);
  });

  it("exits 2 when the JWKS cannot be read or is fetched over plain http", async () => {
    expect((await trustgate(["verify-token", "a.b.c", "--jwks", "/nonexistent.json"])).code).to.equal(2);
    const http = await trustgate(["verify-token", "a.b.c", "--jwks", "http://127.0.0.1:1/jwks.json"]);
    expect(http.code).to.equal(2);
    expect(http.stderr).to.include("must come over https");
  });
});
