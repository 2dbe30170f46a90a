import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { exportJWK, generateKeyPair } from "jose";
import { expectedReportData, gpuNonce, type GuestPublicKey } from "../binding.ts";
import { createLocalGpuVerifier, localGpuVerifier, parseSpdmEvidence } from "../gpu/index.ts";
import { createRimAppraiser } from "../gpu/rim/rim-measurement-check.ts";
import { createSnpVerifier, parseSnpReport, snpVerifier } from "../snp/index.ts";
import { appraise } from "../appraise.ts";
import { compilePolicySpec } from "../policy/compiled-policy.ts";
import { backendsTrusting } from "./backends.ts";
import { simulatedChipId } from "./device-identity.ts";
import { amdAnchors } from "./amd-pki.ts";
import { simulatedOcspSource } from "./nvidia-ocsp.ts";
import { nvidiaAnchors } from "./nvidia-pki.ts";
import { generateSimPki, simPkiTrustRoots, type SimPki } from "./sim-pki.ts";
import {
  SIMULATED_GPU_DRIVER_VERSION,
  SIMULATED_GPU_VBIOS_VERSION,
  SimulatedGpus,
} from "./simulated-gpus.ts";
import { SIMULATED_SNP_MEASUREMENT, SIMULATED_SNP_TCB, SimulatedSnpTee } from "./simulated-snp.ts";
import { simulatedCollateralSource } from "./collateral-routes.ts";
import { simulatedVcek } from "./simulated-vcek.ts";
import type { CollateralSource } from "../types.ts";

const NOW = new Date();
const GPUS = ["node-a/0000:41:00.0", "node-a/0000:42:00.0", "node-a/0000:43:00.0"];

describe("simulated SEV-SNP TEE and H100 GPUs", function () {
  this.timeout(30_000);
  let pki: SimPki;
  let reportData: Uint8Array;
  /** The simulated KDS (and PCS), answered in-process: where the verifier gets the VCEK and its chain. */
  let kds: CollateralSource;

  before(async () => {
    pki = await generateSimPki();
    reportData = new Uint8Array(randomBytes(64));
    kds = simulatedCollateralSource(pki);
  });

  /** The real verifier, trusting the simulated device and RIM roots. */
  function simulatedGpuVerifier() {
    return createLocalGpuVerifier({
      anchors: nvidiaAnchors(pki.nvidia.root.toString()),
      measurements: createRimAppraiser({ anchors: { roots: [pki.nvidiaRim?.root.toString() ?? ""] } }),
    });
  }

  describe("SNP", () => {
    it("produces a Genoa v3 report that the real verifier accepts under the simulated ARK, bound to REPORT_DATA", async () => {
      const tee = await new SimulatedSnpTee(pki).collect(reportData, { machine: "node-a" });
      expect(tee.type).to.equal("snp");
      const verification = await createSnpVerifier({ anchors: amdAnchors(pki.amd.arkPem) }).verify(tee, {
        now: NOW,
        expectedReportData: reportData,
        collateral: kds,
      });
      expect(verification.authentic, JSON.stringify(verification.errors)).to.equal(true);
      expect(verification.errors).to.deep.equal([]);
      expect(verification.claims).to.include({
        product: "Genoa",
        version: 3,
        reportData: Buffer.from(reportData).toString("hex"),
        measurement: SIMULATED_SNP_MEASUREMENT,
        chipId: Buffer.from(simulatedChipId("node-a")).toString("hex"),
      });
      expect((verification.claims["policy"] as Record<string, unknown>)["debug"]).to.equal(false);
    });

    it("carries the report alone, as a KubeVirt guest: without a KDS the VCEK is missing", async () => {
      const tee = await new SimulatedSnpTee(pki).collect(reportData, { machine: "node-a" });
      expect(Object.keys(tee).sort()).to.deep.equal(["report", "type"]);
      const verification = await createSnpVerifier({ anchors: amdAnchors(pki.amd.arkPem) }).verify(tee, {
        now: NOW,
      });
      expect(verification.authentic).to.equal(false);
      expect(verification.errors.map((e) => e.code)).to.deep.equal(["CollateralMissing"]);
    });

    it("carries the VCEK and ASK+ARK chain when asked to (carryEndorsements), then verifies without a KDS", async () => {
      const tee = await new SimulatedSnpTee(pki, { carryEndorsements: true }).collect(reportData, {
        machine: "node-a",
      });
      expect(tee.vcek).to.include("BEGIN CERTIFICATE");
      expect(tee.certChain).to.equal(pki.amd.intermediatePem + pki.amd.arkPem);
      const verification = await createSnpVerifier({ anchors: amdAnchors(pki.amd.arkPem) }).verify(tee, {
        now: NOW,
        expectedReportData: reportData,
      });
      expect(verification.errors).to.deep.equal([]);
      expect(verification.authentic).to.equal(true);
    });

    it("reports BindingMismatch for other report data", async () => {
      const tee = await new SimulatedSnpTee(pki).collect(reportData, { machine: "node-a" });
      const verification = await createSnpVerifier({ anchors: amdAnchors(pki.amd.arkPem) }).verify(tee, {
        now: NOW,
        expectedReportData: new Uint8Array(64),
        collateral: kds,
      });
      expect(verification.errors.map((e) => e.code)).to.deep.equal(["BindingMismatch"]);
    });

    it("gives each machine its own chip and VCEK", async () => {
      const tee = new SimulatedSnpTee(pki);
      const [a, b] = await Promise.all([
        tee.collect(reportData, { machine: "node-a" }),
        tee.collect(reportData, { machine: "node-b" }),
      ]);
      const chip = (t: typeof a): Uint8Array => parseSnpReport(Buffer.from(t.report ?? "", "base64")).chipId;
      expect(Buffer.from(chip(a)).equals(Buffer.from(chip(b)))).to.equal(false);
      const [vcekA, vcekB] = await Promise.all(
        [a, b].map((t) => simulatedVcek(pki.amd, chip(t), SIMULATED_SNP_TCB)),
      );
      expect(vcekA?.leafPem).not.to.equal(vcekB?.leafPem);
    });

    it("is NOT authentic under the pinned AMD ARKs, even with the simulated KDS's chain", async () => {
      const tee = await new SimulatedSnpTee(pki).collect(reportData, { machine: "node-a" });
      const verification = await snpVerifier.verify(tee, {
        now: NOW,
        expectedReportData: reportData,
        collateral: kds,
      });
      expect(verification.authentic).to.equal(false);
      expect(verification.errors.map((e) => e.code)).to.deep.equal(["ChainInvalid"]);
    });

    it("rejects report data that is not 64 bytes", async () => {
      let error: unknown;
      await new SimulatedSnpTee(pki)
        .collect(new Uint8Array(32), { machine: "x" })
        .catch((e: unknown) => (error = e));
      expect(String(error)).to.include("REPORT_DATA must be 64 bytes");
    });
  });

  describe("GPUs", () => {
    it("produces one H100 evidence per GPU, carrying the nonce, authentic under the simulated root", async () => {
      const nonce = gpuNonce(reportData);
      const gpus = await new SimulatedGpus(pki).collect(nonce, { gpus: GPUS });
      expect(gpus).to.have.length(3);
      const results = await simulatedGpuVerifier().verify(gpus, { now: NOW, expectedNonce: nonce });
      for (const result of results) {
        expect(result.authentic, JSON.stringify(result.errors)).to.equal(true);
        expect(result.errors).to.deep.equal([]);
        expect([result.measurements, result.rim]).to.deep.equal(["match", { active: 64, matched: 64 }]);
        expect(result).to.include({
          nonce: Buffer.from(nonce).toString("hex"),
          driverVersion: SIMULATED_GPU_DRIVER_VERSION,
          vbiosVersion: SIMULATED_GPU_VBIOS_VERSION,
          deviceType: "gpu",
          hwmodel: "GH100 A01 GSP BROM",
        });
      }
      expect(new Set(results.map((r) => r.ueid)).size, "distinct identities").to.equal(3);
      expect(
        parseSpdmEvidence(Buffer.from(gpus[0]?.evidence ?? "", "base64")).response.blocks,
      ).to.have.length(64);
    });

    it("keeps a GPU's identity for the same name, in another process too (a fresh provider)", async () => {
      const nonce = gpuNonce(reportData);
      const verifier = simulatedGpuVerifier();
      const first = await verifier.verify(await new SimulatedGpus(pki).collect(nonce, { gpus: GPUS }), {
        now: NOW,
      });
      const again = await verifier.verify(await new SimulatedGpus(pki).collect(nonce, { gpus: GPUS }), {
        now: NOW,
      });
      expect(again.map((r) => r.ueid)).to.deep.equal(first.map((r) => r.ueid));
    });

    it("reports NonceMismatch for another nonce", async () => {
      const gpus = await new SimulatedGpus(pki).collect(gpuNonce(reportData), { gpus: GPUS.slice(0, 1) });
      const [result] = await simulatedGpuVerifier().verify(gpus, {
        now: NOW,
        expectedNonce: new Uint8Array(32),
      });
      expect(result?.errors.map((e) => e.code)).to.deep.equal(["NonceMismatch"]);
    });

    it("is NOT authentic under the pinned NVIDIA root", async () => {
      const gpus = await new SimulatedGpus(pki).collect(gpuNonce(reportData), { gpus: GPUS.slice(0, 1) });
      const [result] = await localGpuVerifier.verify(gpus, { now: NOW });
      expect(result?.authentic).to.equal(false);
      expect(result?.errors.map((e) => e.code)).to.deep.equal(["ChainInvalid"]);
    });

    it("carries driver and VBIOS RIMs that only a verifier trusting the simulated RIM root accepts", async () => {
      const gpus = await new SimulatedGpus(pki).collect(gpuNonce(reportData), { gpus: GPUS.slice(0, 1) });
      const [result] = await createLocalGpuVerifier({
        anchors: nvidiaAnchors(pki.nvidia.root.toString()),
      }).verify(gpus, { now: NOW });
      expect([result?.authentic, result?.measurements]).to.deep.equal([true, "unchecked"]);
      expect(result?.errors.map((e) => e.code)).to.deep.equal(["ChainInvalid", "ChainInvalid"]);
    });
  });

  describe("a whole bundle through appraise", () => {
    let guestKey: GuestPublicKey;
    const nonce = "7a".repeat(32);

    before(async () => {
      const jwk = await exportJWK((await generateKeyPair("ES256")).publicKey);
      guestKey = { kty: "EC", crv: "P-256", x: jwk.x ?? "", y: jwk.y ?? "" };
    });

    async function bundle(): Promise<Record<string, unknown>> {
      const data = await expectedReportData(nonce, guestKey);
      return {
        nonce,
        publicKey: guestKey,
        tee: await new SimulatedSnpTee(pki).collect(data, { machine: "node-a" }),
        gpus: await new SimulatedGpus(pki).collect(gpuNonce(data), { gpus: GPUS }),
      };
    }

    it("affirms with backends that also trust the simulated roots (the controller's --test-trust-roots)", async () => {
      const roots = simPkiTrustRoots(pki);
      const report = await appraise(
        await bundle(),
        compilePolicySpec({ gpu: { requireRevocationCheck: false } }),
        {
          now: NOW,
          nonce: nonce,
          backends: { ...backendsTrusting(roots), collateral: kds },
        },
      );
      expect(report.tee.errors).to.deep.equal([]);
      expect(report.tee.binding).to.equal("match");
      expect(report.gpus.every((g) => g.authentic && g.errors.length === 0)).to.equal(true);
      expect(report.gpus.map((g) => g.measurements)).to.deep.equal(["match", "match", "match"]);
      expect(report.verdict).to.equal("warning"); // revocation unchecked, tolerated by this policy
    });

    it("affirms with revocation required when the simulated OCSP responder answers (requireRevocationCheck: true)", async () => {
      const roots = simPkiTrustRoots(pki);
      const report = await appraise(
        await bundle(),
        compilePolicySpec({
          snp: { measurement: [SIMULATED_SNP_MEASUREMENT] },
          gpu: { requireRevocationCheck: true, requireRimMatch: true },
        }),
        {
          now: NOW,
          nonce: nonce,
          backends: {
            ...backendsTrusting(roots, { ocsp: [simulatedOcspSource(pki.nvidiaOcsp ?? [])] }),
            collateral: kds,
          },
        },
      );
      expect(report.gpus.flatMap((g) => g.errors)).to.deep.equal([]);
      expect(report.gpus.map((g) => g.revocation)).to.deep.equal(["good", "good", "good"]);
      expect(report.verdict).to.equal("affirming");
    });

    it("is contraindicated with the production backends", async () => {
      const { defaultGpuVerifier, defaultTeeBackends } = await import("../registry.ts");
      const report = await appraise(await bundle(), compilePolicySpec({}), {
        now: NOW,
        nonce: nonce,
        backends: { tees: defaultTeeBackends(), gpus: defaultGpuVerifier(), collateral: kds },
      });
      expect(report.verdict).to.equal("contraindicated");
      expect(report.tee.authentic).to.equal(false);
      expect(report.gpus.every((g) => !g.authentic)).to.equal(true);
    });
  });
});
