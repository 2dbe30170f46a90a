import { expect } from "chai";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer, type AddressInfo } from "node:net";
import { createServer as createHttpsServer } from "node:https";
import { runTrustgate, stderrLines } from "../../test/support/run-trustgate.ts";
import { REPO_ROOT } from "../../test/support/samples.ts";
import { issueCertificate } from "../webhook/certs/x509.ts";
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

  it("exits 2 with one line, not a stack trace, when the JWKS file is not JSON or not a JWKS", async () => {
    const cases: [string, string][] = [
      ["not json\n", "is not JSON"],
      ["null", 'is not a JWKS (no "keys" array)'],
      ['{"kid":"a"}', 'is not a JWKS (no "keys" array)'],
    ];
    for (const [content, message] of cases) {
      const path = join(dir, "bad-jwks.txt");
      writeFileSync(path, content);
      const run = await runTrustgate(["verify-token", "a.b.c", "--jwks", path]);
      expect(run.code, content).to.equal(2);
      expect(stderrLines(run), content).to.have.length(1);
      expect(run.stderr).to.include(`trustgate verify-token: `).and.include(message);
      expect(run.stderr).not.to.match(/\n\s+at /);
    }
  });

  it("names the network cause when the JWKS cannot be fetched: a refused connection, an untrusted certificate", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const refused = await runTrustgate([
      "verify-token",
      "a.b.c",
      "--jwks",
      `https://127.0.0.1:${String(closedPort)}/jwks`,
    ]);
    expect(refused.code).to.equal(2);
    expect(refused.stderr).to.include(
      `connection refused (ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:${String(closedPort)})`,
    );

    const now = Date.now();
    const leaf = issueCertificate({
      commonName: "jwks.test",
      ca: false,
      sans: ["127.0.0.1"],
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 3_600_000),
    });
    const server = createHttpsServer({ cert: leaf.certPem, key: leaf.keyPem }, (_req, res) =>
      res.end('{"keys":[]}'),
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const url = `https://127.0.0.1:${String((server.address() as AddressInfo).port)}/jwks`;
      const untrusted = await runTrustgate(["verify-token", "a.b.c", "--jwks", url]);
      expect(untrusted.code).to.equal(2);
      expect(stderrLines(untrusted)).to.have.length(1);
      expect(untrusted.stderr).to.match(
        /TLS failed \((DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN)/,
      );
      // Trusting the certificate, the same server answers; an empty key set then cannot verify the token.
      const caFile = join(dir, "jwks-ca.pem");
      writeFileSync(caFile, leaf.certPem);
      const trusted = await runTrustgate(["verify-token", "a.b.c", "--jwks", url, "--ca-file", caFile]);
      expect(trusted.stderr).not.to.include("TLS failed");
      expect(trusted.code).to.equal(1);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
