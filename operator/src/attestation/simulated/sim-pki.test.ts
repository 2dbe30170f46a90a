import { expect } from "chai";
import { cp, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";
import { createSimPki, loadSimPki, TRUST_ROOTS_FILE } from "./sim-pki.ts";
import { simulatedBackends } from "./backends.ts";
import { SimulatedSnpTee } from "./simulated-snp.ts";
import { SimulatedGpus } from "./simulated-gpus.ts";
import { createSnpVerifier } from "../snp/index.ts";
import { createLocalGpuVerifier } from "../gpu/index.ts";
import { loadTestTrustRoots, parseTestTrustRoots } from "./test-trust-roots.ts";
import { simulatedCollateralSource } from "./collateral-routes.ts";
import { SimulatedTdxTee } from "./simulated-tdx.ts";
import { simulatedVcek } from "./simulated-vcek.ts";
import { SIMULATED_SNP_TCB } from "./simulated-snp.ts";
import { simulatedChipId } from "./device-identity.ts";
import { issuePckLeaf, SIMULATED_SGX_ROOT_CN } from "./intel-pki.ts";
import { SIMULATED_TDX_PCK_TCB } from "./tdx-platform.ts";

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
    for (const file of [
      "private/amd-ask.key.pem",
      "private/nvidia-ica.key.pem",
      "private/intel-pck-platform-ca.key.pem",
      "private/intel-tcb-signing.key.pem",
    ])
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
    expect(roots.tdx.roots).to.have.length(1);
    expect(roots.tdx.tcbSigning).to.have.length(1);
    expect(new X509Certificate(roots.tdx.roots[0] ?? "").subject).to.include(`CN=${SIMULATED_SGX_ROOT_CN}`);
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
      collateral: simulatedCollateralSource(pki),
    });
    expect(snp.authentic, JSON.stringify(snp.errors)).to.equal(true);
    const quote = await new SimulatedTdxTee(pki).collect(reportData, { machine: "node-a" });
    const { tees } = await simulatedBackends(join(dir, TRUST_ROOTS_FILE));
    const tdx = await tees.tdx?.verifier.verify(quote, {
      now: NOW,
      expectedReportData: reportData,
      collateral: simulatedCollateralSource(pki),
    });
    expect(tdx?.errors).to.deep.equal([]);
    expect([tdx?.authentic, tdx?.tcbStatus]).to.deep.equal([true, "UpToDate"]);
    const gpus = await new SimulatedGpus(pki).collect(reportData.subarray(0, 32), {
      gpus: ["node-a/0000:41:00.0"],
    });
    const [gpu] = await createLocalGpuVerifier({ anchors: roots.gpu }).verify(gpus, {
      now: NOW,
      expectedNonce: reportData.subarray(0, 32),
    });
    expect(gpu?.authentic, JSON.stringify(gpu?.errors)).to.equal(true);
  });

  it("gives --test-trust-roots backends the PKI's collateral in-process only when the CA keys are beside the roots", async () => {
    const pki = await loadSimPki(dir);
    const reportData = new Uint8Array(64).fill(4);
    const bare = { tee: await new SimulatedSnpTee(pki).collect(reportData, { machine: "node-b" }) };
    const whole = await simulatedBackends(join(dir, TRUST_ROOTS_FILE));
    expect(whole.collateral).not.to.equal(undefined);
    const snp = await whole.tees.snp?.verifier.verify(bare.tee, {
      now: NOW,
      expectedReportData: reportData,
      ...(whole.collateral === undefined ? {} : { collateral: whole.collateral }),
    });
    expect(snp?.errors).to.deep.equal([]);
    const alone = await mkdtemp(join(tmpdir(), "trustgate-roots-alone-"));
    try {
      await cp(join(dir, TRUST_ROOTS_FILE), join(alone, TRUST_ROOTS_FILE));
      expect((await simulatedBackends(join(alone, TRUST_ROOTS_FILE))).collateral).to.equal(undefined);
    } finally {
      await rm(alone, { recursive: true, force: true });
    }
  });

  it("derives the same VCEK and PCK keys from the CA keys read back in another process", async () => {
    const [first, second] = [await loadSimPki(dir), await loadSimPki(dir)];
    const chipId = simulatedChipId("node-a");
    const [a, b] = await Promise.all(
      [first, second].map((pki) => simulatedVcek(pki.amd, chipId, SIMULATED_SNP_TCB)),
    );
    const certificate = (pem: string | undefined): X509Certificate => new X509Certificate(pem ?? "");
    expect(certificate(a?.leafPem).publicKey.export({ format: "jwk" })).to.deep.equal(
      certificate(b?.leafPem).publicKey.export({ format: "jwk" }),
    );
    expect(certificate(a?.leafPem).serialNumber).to.equal(certificate(b?.leafPem).serialNumber);
    const [pckA, pckB] = [first, second].map((pki) =>
      pki.intel === undefined ? undefined : issuePckLeaf(pki.intel, "node-a", SIMULATED_TDX_PCK_TCB),
    );
    expect(pckA?.certificate.publicKey.export({ format: "jwk" })).to.deep.equal(
      pckB?.certificate.publicKey.export({ format: "jwk" }),
    );
    expect(pckA?.serial)
      .to.equal(pckB?.serial)
      .and.to.match(/^[0-9a-f]{32}$/);
  });

  it("reads a PKI written before TDX and the KDS were simulated (no intel/, no amd/crl.der, no tdx roots)", async () => {
    const old = await mkdtemp(join(tmpdir(), "trustgate-sim-pki-old-"));
    try {
      await cp(dir, old, { recursive: true });
      await rm(join(old, "intel"), { recursive: true });
      await rm(join(old, "amd", "crl.der"));
      const rootsFile = join(old, TRUST_ROOTS_FILE);
      const document = JSON.parse(await readFile(rootsFile, "utf8")) as Record<string, unknown>;
      delete document["tdx"];
      await writeFile(rootsFile, JSON.stringify(document));
      const pki = await loadSimPki(old);
      expect([pki.intel, pki.amdCrl]).to.deep.equal([undefined, undefined]);
      expect((await loadTestTrustRoots(rootsFile)).tdx).to.deep.equal({ roots: [], tcbSigning: [] });
      expect(() => new SimulatedTdxTee(pki)).to.throw("this simulated PKI has no Intel CA");
    } finally {
      await rm(old, { recursive: true, force: true });
    }
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
    const document = JSON.parse(text) as {
      snp: { arks: string[] };
      gpu: { roots: string[] };
      tdx: { roots: string[]; tcbSigning: string[] };
    };
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
    expect(
      refuse(JSON.stringify({ ...document, snp: { arks: [] }, gpu: { roots: [] }, tdx: { roots: [] } })),
    ).to.include("holds no roots");
    expect(
      refuse(JSON.stringify({ ...document, tdx: { ...document.tdx, tcbSigning: document.gpu.roots } })),
      "a TCB Signing certificate must come from a listed SGX root",
    ).to.include("tdx.tcbSigning[0]");
    expect(refuse(JSON.stringify({ ...document, tdx: { roots: document.tdx.tcbSigning } }))).to.include(
      "tdx.roots[0]",
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
