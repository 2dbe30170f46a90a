import { X509Certificate } from "node:crypto";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { parsePemCertificates } from "../../crypto/pem.ts";
import { gpuNonce } from "../binding.ts";
import { simulatedBackends } from "./backends.ts";
import { ocspResponse } from "./nvidia-ocsp.ts";
import { preproduceOcspResponses } from "./preproduced-ocsp.ts";
import {
  createSimPki,
  loadSimulatedOcspResponders,
  PREPRODUCED_OCSP_DIR,
  TRUST_ROOTS_FILE,
} from "./sim-pki.ts";
import { SimulatedGpus } from "./simulated-gpus.ts";

describe("pre-produced OCSP responses of a simulated PKI", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "trustgate-preproduced-ocsp-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("are written once per NVIDIA-issued device certificate and answered before the in-process responder", async () => {
    const pki = await createSimPki(dir);
    const nonce = gpuNonce(new Uint8Array(64));
    const gpus = await new SimulatedGpus(pki).collect(nonce, { gpus: ["0000:01:00.0", "0000:02:00.0"] });
    const chains = gpus.map((g) => g.certChain);
    const chain = parsePemCertificates(chains[0] ?? "", "chain").map((der) => new X509Certificate(der));
    // Leaf (the device's own key) and root are not asked about: each chain adds its middle certificates.
    const written = await preproduceOcspResponses(dir, [...chains, ...chains]);
    const files = await readdir(join(dir, PREPRODUCED_OCSP_DIR));
    expect(files).to.have.length(written);
    expect(written).to.be.within(chain.length - 2, 2 * (chain.length - 2));

    // A pre-produced answer wins over the responder, which would say "good": make one say "revoked".
    const [certificate, issuer] = [chain[1], chain[2]];
    if (certificate === undefined || issuer === undefined) throw new Error("short chain");
    const responder = (await loadSimulatedOcspResponders(dir)).find(
      (r) => r.certificate.checkIssued(issuer) && r.certificate.verify(issuer.publicKey),
    );
    if (responder === undefined) throw new Error("no responder for the device's issuer");
    const now = new Date();
    await writeFile(
      join(dir, PREPRODUCED_OCSP_DIR, `${certificate.fingerprint256.replaceAll(":", "")}.der`),
      ocspResponse({
        certificate,
        issuer,
        signer: responder,
        status: { status: "revoked", revokedAt: new Date(now.getTime() - 60_000), reason: "keyCompromise" },
        thisUpdate: new Date(now.getTime() - 3_600_000),
        nextUpdate: new Date(now.getTime() + 3_600_000),
      }),
    );
    const backends = await simulatedBackends(join(dir, TRUST_ROOTS_FILE));
    const results = await backends.gpus.verify(gpus, { now, expectedNonce: nonce });
    expect(results.map((r) => r.revocation)).to.deep.equal(["revoked", "good"]);
  });
});
