import { X509Certificate } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { parsePemCertificates } from "../../crypto/pem.ts";
import { gpuNonce } from "../binding.ts";
import { simulatedBackends } from "./backends.ts";
import { ocspResponse } from "./nvidia-ocsp.ts";
import { amdKdsRoute } from "./collateral-routes.ts";
import { simulatedChipId } from "./device-identity.ts";
import { preissueVceks, preproduceOcspResponses } from "./preproduced-collateral.ts";
import { SIMULATED_SNP_TCB } from "./simulated-snp.ts";
import { PREISSUED_VCEK_DIR, preissuedVcekFile, simulatedVcek } from "./simulated-vcek.ts";
import {
  createSimPki,
  loadSimPki,
  loadSimulatedOcspResponders,
  PREPRODUCED_OCSP_DIR,
  TRUST_ROOTS_FILE,
} from "./sim-pki.ts";
import { SimulatedGpus } from "./simulated-gpus.ts";

describe("collateral of a simulated PKI made ahead of time", () => {
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

  it("pre-issued VCEKs are what the simulated KDS serves, read from the directory first", async () => {
    const pki = await loadSimPki(dir);
    expect(await preissueVceks(dir, ["node-a", "node-b"], SIMULATED_SNP_TCB)).to.equal(2);
    const route = amdKdsRoute(pki);
    const chip = (machine: string) => Buffer.from(simulatedChipId(machine)).toString("hex");
    const spls = (t: typeof SIMULATED_SNP_TCB) =>
      `blSPL=${String(t.bootloader)}&teeSPL=${String(t.tee)}&snpSPL=${String(t.snp)}&ucodeSPL=${String(t.microcode)}`;
    const url = (machine: string) =>
      new URL(`https://kds.invalid/vcek/v1/${pki.amd.product}/${chip(machine)}?${spls(SIMULATED_SNP_TCB)}`);
    // RSA-PSS signatures are randomized: each issuance has other bytes, so the served ones show where they came from.
    const fileOf = (machine: string) =>
      join(dir, PREISSUED_VCEK_DIR, preissuedVcekFile(simulatedChipId(machine), SIMULATED_SNP_TCB));
    const served = Buffer.from((await route(url("node-a")))?.body ?? "");
    expect(served.equals(await readFile(fileOf("node-a")))).to.equal(true);
    const reissued = await simulatedVcek(pki.amd, simulatedChipId("node-a"), SIMULATED_SNP_TCB);
    const keyOf = (der: Uint8Array) => new X509Certificate(der).publicKey;
    expect(keyOf(served).equals(keyOf(reissued.leafDer))).to.equal(true);
    // The directory is the KDS's store: what is written there is served (here a marker, to tell it apart).
    await writeFile(fileOf("node-b"), "marker");
    expect(Buffer.from((await route(url("node-b")))?.body ?? "").toString()).to.equal("marker");
  });
});
