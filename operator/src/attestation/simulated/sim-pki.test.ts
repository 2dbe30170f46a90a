import { expect } from "chai";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSimPki, loadSimPki, TRUST_ROOTS_FILE } from "./sim-pki.ts";
import { simulatedBackends } from "./backends.ts";
import { SimulatedSnpTee } from "./simulated-snp.ts";
import { SimulatedGpus } from "./simulated-gpus.ts";
import { createSnpVerifier } from "../snp/index.ts";
import { createLocalGpuVerifier } from "../gpu/index.ts";
import { loadTestTrustRoots, parseTestTrustRoots } from "./test-trust-roots.ts";

const NOW = new Date();

describe("simulated PKI directory (hack/sim-pki.ts)", function () {
  this.timeout(30_000);
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "trustgate-sim-pki-"));
    await createSimPki(dir);
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("keeps the CA keys private (0600 in a 0700 folder) and the certificates public", async () => {
    for (const file of ["private/amd-ask.key.pem", "private/nvidia-ica.key.pem"])
      expect((await stat(join(dir, file))).mode & 0o777, file).to.equal(0o600);
    expect((await stat(join(dir, "private"))).mode & 0o777).to.equal(0o700);
    expect((await stat(join(dir, TRUST_ROOTS_FILE))).mode & 0o777).to.equal(0o644);
  });

  it("writes only the public roots into trust-roots.json, in the shape the verifiers take", async () => {
    const text = await readFile(join(dir, TRUST_ROOTS_FILE), "utf8");
    expect(text).not.to.include("PRIVATE KEY");
    const roots = await loadTestTrustRoots(join(dir, TRUST_ROOTS_FILE));
    expect(roots.snp.arks).to.have.length(1);
    expect(roots.snp.intermediates).to.deep.equal([]);
    expect(roots.gpu.roots).to.have.length(1);
    expect(roots.snp.arks[0]).to.include("BEGIN CERTIFICATE");
  });

  it("refuses to overwrite an existing simulated PKI", async () => {
    let error: unknown;
    await createSimPki(dir).catch((e: unknown) => (error = e));
    expect(String(error)).to.include("already holds a simulated PKI");
  });

  it("issues verifiable devices from the PKI read back from disk", async () => {
    const pki = await loadSimPki(dir);
    const roots = await loadTestTrustRoots(join(dir, TRUST_ROOTS_FILE));
    const reportData = new Uint8Array(64).fill(9);
    const tee = await new SimulatedSnpTee(pki).collect(reportData, { machine: "node-a" });
    const snp = await createSnpVerifier({ anchors: roots.snp }).verify(tee, {
      now: NOW,
      expectedReportData: reportData,
    });
    expect(snp.authentic, JSON.stringify(snp.errors)).to.equal(true);
    const gpus = await new SimulatedGpus(pki).collect(reportData.subarray(0, 32), {
      gpus: ["node-a/0000:41:00.0"],
    });
    const [gpu] = await createLocalGpuVerifier({ anchors: roots.gpu }).verify(gpus, {
      now: NOW,
      expectedNonce: reportData.subarray(0, 32),
    });
    expect(gpu?.authentic, JSON.stringify(gpu?.errors)).to.equal(true);
  });

  it("keeps simulated OCSP responders whose answers the controller's --test-trust-roots backends use", async () => {
    const pki = await loadSimPki(dir);
    expect(pki.nvidiaOcsp?.map((r) => r.name)).to.deep.equal([
      "NVIDIA Device Identity CA OCSP Responder",
      "NVIDIA GH100 Identity OCSP Responder",
      "NVIDIA GH100 Provisioner ICA 1 OCSP Responder",
      "NVIDIA CoRIM signing Root CA OCSP Responder",
      "NVIDIA Reference Value GH100 CA OCSP Responder",
    ]);
    const { gpus: verifier } = await simulatedBackends(join(dir, TRUST_ROOTS_FILE));
    const nonce = new Uint8Array(32).fill(3);
    const gpus = await new SimulatedGpus(pki).collect(nonce, { gpus: ["node-a/0000:41:00.0"] });
    const [gpu] = await verifier.verify(gpus, { now: NOW, expectedNonce: nonce });
    expect(gpu?.errors).to.deep.equal([]);
    expect([gpu?.measurements, gpu?.revocation]).to.deep.equal(["match", "good"]);
  });
});

describe("parseTestTrustRoots", () => {
  const valid = async (): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), "trustgate-sim-roots-"));
    try {
      await createSimPki(dir);
      return await readFile(join(dir, TRUST_ROOTS_FILE), "utf8");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };

  it("refuses a file holding a private key, a non-roots document, a non-CA and an empty one", async function () {
    this.timeout(30_000);
    const text = await valid();
    const document = JSON.parse(text) as { snp: { arks: string[] }; gpu: { roots: string[] } };
    const refuse = (t: string): string => {
      try {
        parseTestTrustRoots(t, "roots.json");
      } catch (error) {
        return (error as Error).message;
      }
      return "accepted";
    };
    expect(
      refuse(text.replace('"testOnly": true', '"testOnly": true, "x": "-----BEGIN PRIVATE KEY-----"')),
    ).to.include("holds a private key");
    expect(refuse(JSON.stringify({ ...document, testOnly: false }))).to.include("is not a trust-roots file");
    expect(refuse("{")).to.include("is not JSON");
    expect(refuse(JSON.stringify({ ...document, snp: { arks: [] }, gpu: { roots: [] } }))).to.include(
      "holds no roots",
    );
    expect(refuse(JSON.stringify({ ...document, gpu: { roots: ["nope"] } }))).to.include(
      "gpu.roots[0] is not a PEM",
    );
    expect(refuse(text)).to.equal("accepted");
  });

  it("names the file it cannot read", async () => {
    let error: unknown;
    await loadTestTrustRoots("/nonexistent/trust-roots.json").catch((e: unknown) => (error = e));
    expect(String(error)).to.include("cannot read test trust roots /nonexistent/trust-roots.json");
  });

  it("a file path that is not JSON fails clearly", async () => {
    const dir = await mkdtemp(join(tmpdir(), "trustgate-sim-roots-"));
    await writeFile(join(dir, "roots.json"), "not json");
    let error: unknown;
    await loadTestTrustRoots(join(dir, "roots.json")).catch((e: unknown) => (error = e));
    await rm(dir, { recursive: true, force: true });
    expect(String(error)).to.include("is not JSON");
  });
});
