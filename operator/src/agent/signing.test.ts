import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { decodeProtectedHeader } from "jose";
import { verifyHostReport } from "../host/verify-host-report.ts";
import { loadOrCreateAgentKey, signHostReport } from "./signing.ts";

describe("agent key and signing", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "signing-"))));
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("creates the key on first start with mode 0600 and loads the same key afterwards", async () => {
    const path = join(dir, "nested/agent-key.jwk");
    const first = await loadOrCreateAgentKey(path);
    expect(first.created).to.equal(true);
    expect(statSync(path).mode & 0o777).to.equal(0o600);
    expect(statSync(join(dir, "nested")).mode & 0o777).to.equal(0o700);
    const second = await loadOrCreateAgentKey(path);
    expect(second).to.deep.include({ created: false, looseMode: false });
    expect(second.key.keyId).to.equal(first.key.keyId);
    expect(second.key.publicKey).to.deep.equal({ ...first.key.publicKey });
    expect(first.key.publicKey).to.have.keys(["kty", "crv", "x", "y", "kid", "alg", "use"]);
  });

  it("refuses a malformed key file and leaves it alone", async () => {
    const path = join(dir, "agent-key.jwk");
    writeFileSync(path, '{"kty":"RSA"}', { mode: 0o600 });
    let error: Error | undefined;
    await loadOrCreateAgentKey(path).catch((e: unknown) => (error = e as Error));
    expect(error?.message).to.match(/not an EC P-256 private JWK/);
    expect(readFileSync(path, "utf8")).to.equal('{"kty":"RSA"}');
  });

  it("notices a key file others can read", async () => {
    const path = join(dir, "agent-key.jwk");
    await loadOrCreateAgentKey(path);
    chmodSync(path, 0o644);
    expect((await loadOrCreateAgentKey(path)).looseMode).to.equal(true);
  });

  it("signs a compact ES256 JWS with the key's kid and the host report typ", async () => {
    const { key } = await loadOrCreateAgentKey(join(dir, "k.jwk"));
    const status = await signHostReport("n1", { agentVersion: "0.1.0", gpus: [] }, key);
    expect(decodeProtectedHeader(status.report!.jws)).to.deep.equal({
      alg: "ES256",
      kid: key.keyId,
      typ: "trustgate-host-report+jws",
    });
    expect(status.report!.keyId).to.equal(key.keyId);
    expect(await verifyHostReport("n1", status)).to.deep.equal({ ok: true, keyId: key.keyId });
    const resigned = await signHostReport("n1", status, key);
    expect(await verifyHostReport("n1", resigned)).to.deep.equal({ ok: true, keyId: key.keyId });
  });
});
