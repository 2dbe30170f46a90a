import { expect } from "chai";
import { makeFakeNvidiaPki, type FakeLeafOptions } from "../simulated/nvidia-pki.ts";
import { SHARED_GPU_ITEMS, sharedGpuEntry } from "../../../test/fixtures/nvidia/shared-items.ts";
import { encodeEvidence, opaque, type EvidenceSpec } from "../simulated/spdm-evidence.ts";
import type { GpuEvidenceEntry, GpuMeasurementAppraiser, GpuRevocationChecker } from "./checks.ts";
import { MEASUREMENTS_UNCHECKED } from "./checks.ts";
import { createLocalGpuVerifier, type LocalGpuResult } from "./verifier.ts";

const verifier = createLocalGpuVerifier({ measurements: MEASUREMENTS_UNCHECKED });
const item = (name: string) => {
  const found = SHARED_GPU_ITEMS.find((i) => i.item === name);
  if (found === undefined) throw new Error(`no item ${name}`);
  return found;
};
const codes = (result: LocalGpuResult | undefined): string[] => (result?.errors ?? []).map((e) => e.code);
const NOW = new Date("2025-06-11T00:31:00Z");

/** Synthetic evidence signed under a fake NVIDIA PKI, and a verifier that trusts only that PKI. */
function synthetic(spec: EvidenceSpec, leaf: FakeLeafOptions = {}) {
  const fake = makeFakeNvidiaPki(leaf);
  const entry: GpuEvidenceEntry = {
    arch: "HOPPER",
    evidence: Buffer.from(encodeEvidence(spec, fake.leafKey)).toString("base64"),
    certChain: fake.chainPem,
  };
  return {
    entry,
    fake,
    verifier: createLocalGpuVerifier({ anchors: fake.anchors, measurements: MEASUREMENTS_UNCHECKED }),
  };
}

describe("local GPU evidence verifier", () => {
  describe("every shared NVIDIA item gets its MANIFEST verdict", () => {
    for (const shared of SHARED_GPU_ITEMS) {
      for (const verdict of shared.verdicts) {
        const chain = verdict.certChainFile === undefined ? "" : ` with ${verdict.certChainFile}`;
        it(`${shared.item}${chain} at ${verdict.at}: ${verdict.authentic ? "authentic" : verdict.errorCodes.join(", ")}`, async () => {
          const entry = sharedGpuEntry(
            shared,
            verdict.certChainFile === undefined ? {} : { certChainFile: verdict.certChainFile },
          );
          const [result] = await verifier.verify([entry], { now: new Date(verdict.at) });
          expect(result?.authentic, JSON.stringify(result?.errors)).to.equal(verdict.authentic);
          expect(codes(result)).to.deep.equal(verdict.errorCodes);
          expect(result?.nonce).to.equal(shared.facts.nonce);
          expect(result?.driverVersion).to.equal(shared.facts.driverVersion ?? "");
          expect(result?.vbiosVersion).to.equal(shared.facts.vbiosVersion);
          expect([result?.measurements, result?.revocation]).to.deep.equal(["unchecked", "unchecked"]);
          if (verdict.authentic) {
            expect(result?.deviceType).to.equal(shared.deviceType);
            expect(result?.hwmodel).to.equal(shared.facts.hwmodel);
          }
        });
      }
    }
  });

  it("checks the request nonce against the expected GPU nonce (NonceMismatch, still authentic)", async () => {
    const shared = item("nvtrust-hopper-550");
    const entry = sharedGpuEntry(shared);
    const good = Buffer.from(shared.facts.nonce, "hex");
    const [ok] = await verifier.verify([entry], { now: NOW, expectedNonce: good });
    expect(codes(ok)).to.deep.equal([]);
    const [bad] = await verifier.verify([entry], { now: NOW, expectedNonce: new Uint8Array(32) });
    expect(bad?.authentic).to.equal(true);
    expect(codes(bad)).to.deep.equal(["NonceMismatch"]);
  });

  it("reports a bundle whose driver, VBIOS or arch differ from the signed evidence", async () => {
    const shared = item("nvtrust-hopper-550");
    const entries = [
      sharedGpuEntry(shared, { driverVersion: "550.54.15" }),
      sharedGpuEntry(shared, { vbiosVersion: "96.00.9f.00.01" }),
      sharedGpuEntry(shared, { vbiosVersion: "96.00.9F.00.02" }),
      sharedGpuEntry(shared, { arch: "BLACKWELL" }),
    ];
    const results = (await Promise.all(entries.map((e) => verifier.verify([e], { now: NOW })))).flat();
    expect(results[0]?.errors[0]?.message).to.match(
      /driverVersion 550\.54\.15; the evidence's DRIVER_VERSION is 550\.90\.07/,
    );
    expect(codes(results[1])).to.deep.equal([]);
    expect(results[2]?.errors[0]?.message).to.match(/VBIOS_VERSION is 96\.00\.9F\.00\.01/);
    expect(results[3]?.errors[0]?.message).to.match(/arch BLACKWELL; the device certificate is a HOPPER gpu/);
    expect(results.every((r) => r.authentic)).to.equal(true);
  });

  it("takes NVIDIA's arch label LS10 (or the generation HOPPER) for NVSwitch evidence, and only for it", async () => {
    const ls10 = item("sdk-nvswitch-ls10");
    const gpu = item("nvtrust-hopper-550");
    const entries = [
      sharedGpuEntry(ls10, { arch: "LS10" }),
      sharedGpuEntry(ls10, { arch: "HOPPER" }),
      sharedGpuEntry(ls10, { arch: "BLACKWELL" }),
      sharedGpuEntry(gpu, { arch: "LS10" }),
    ];
    const results = (await Promise.all(entries.map((e) => verifier.verify([e], { now: NOW })))).flat();
    expect(results.map(codes)).to.deep.equal([[], [], ["EvidenceMalformed"], ["EvidenceMalformed"]]);
    expect(results.map((r) => r.deviceType)).to.deep.equal(["switch", "switch", "switch", "gpu"]);
    expect(results[2]?.errors[0]?.message).to.equal(
      "bundle reports arch BLACKWELL; the device certificate is a HOPPER switch (LS10 or HOPPER)",
    );
    expect(results[3]?.errors[0]?.message).to.equal(
      "bundle reports arch LS10; the device certificate is a HOPPER gpu (HOPPER)",
    );
  });

  it("an NVSwitch bundle entry that reports a driver version is inconsistent: switches report none", async () => {
    const [result] = await verifier.verify(
      [sharedGpuEntry(item("sdk-nvswitch-ls10"), { driverVersion: "1.0" })],
      {
        now: NOW,
      },
    );
    expect(result?.errors.map((e) => e.message)).to.deep.equal([
      "bundle reports driverVersion 1.0; the evidence has no DRIVER_VERSION",
    ]);
  });

  it("rejects the same device twice in one bundle: the later entry carries the error", async () => {
    const a = sharedGpuEntry(item("nvtrust-hopper-550"));
    const b = sharedGpuEntry(item("sdk-hopper-580-159"));
    const results = await verifier.verify([a, b, a], { now: NOW });
    expect(results.map(codes)).to.deep.equal([[], [], ["DuplicateGpu"]]);
    expect(results[2]?.errors[0]?.message).to.include(
      "ueid 478176379286082186618948445787393647364802107249) as gpus[0]",
    );
    // "The same device" is the fused device identity (BROM) certificate, not the firmware-derived leaf.
    expect(results[0]?.deviceIdentity).to.match(/^[0-9a-f]{64}$/);
    expect(results[2]?.deviceIdentity).to.equal(results[0]?.deviceIdentity);
    expect(results[1]?.deviceIdentity).to.not.equal(results[0]?.deviceIdentity);
  });

  it("runs the RIM and revocation hooks on authentic evidence only; a failing hook stays unchecked", async () => {
    const seen: number[] = [];
    const measurements: GpuMeasurementAppraiser = {
      appraise: (evidence) => {
        seen.push(evidence.spdm.response.blocks.length);
        return Promise.resolve({
          measurements: "mismatch",
          errors: [{ code: "MeasurementMismatch", message: "index 9" }],
        });
      },
    };
    const revocation: GpuRevocationChecker = {
      check: () => Promise.reject(new Error("OCSP responder down")),
    };
    const hooked = createLocalGpuVerifier({ measurements, revocation });
    const garbage: GpuEvidenceEntry = { arch: "HOPPER", evidence: "AAAA", certChain: "" };
    const [real, bad] = await hooked.verify([sharedGpuEntry(item("sdk-nvswitch-ls10")), garbage], {
      now: NOW,
    });
    expect(seen).to.deep.equal([31]);
    expect([real?.measurements, real?.revocation]).to.deep.equal(["mismatch", "unchecked"]);
    expect(codes(real)).to.deep.equal(["MeasurementMismatch", "EvidenceMalformed"]);
    expect(bad?.measurements).to.equal("unchecked");
  });

  describe("synthetic evidence under a fake NVIDIA PKI", () => {
    const fwid = new Uint8Array(48).fill(0x42);
    const spec: EvidenceSpec = {
      opaque: [opaque.driverVersion("570.86.15"), opaque.gpuVbios("96.00.9F.00.01"), opaque.fwid(fwid)],
    };

    it("is authentic when the verifier trusts the fake root, and ChainInvalid for the production verifier", async () => {
      const s = synthetic(spec, { fwid });
      const [trusted] = await s.verifier.verify([s.entry], { now: NOW });
      expect([trusted?.authentic, codes(trusted)]).to.deep.equal([true, []]);
      expect([trusted?.driverVersion, trusted?.vbiosVersion]).to.deep.equal(["570.86.15", "96.00.9F.00.01"]);
      const [production] = await verifier.verify([s.entry], { now: NOW });
      expect([production?.authentic, codes(production)]).to.deep.equal([false, ["ChainInvalid"]]);
    });

    it("an opaque FWID that differs from the leaf's, or a leaf without one, is not authentic (ChainInvalid)", async () => {
      for (const leaf of [{ fwid: new Uint8Array(48).fill(0x43) }, {}]) {
        const s = synthetic(spec, leaf);
        const [result] = await s.verifier.verify([s.entry], { now: NOW });
        expect([result?.authentic, codes(result)]).to.deep.equal([false, ["ChainInvalid"]]);
        expect(result?.errors[0]?.message).to.include("FWID");
      }
    });

    it("evidence without an FWID (535/545 firmware) skips the FWID check", async () => {
      const s = synthetic({ opaque: [opaque.driverVersion("545.00")] }, { fwid });
      const [result] = await s.verifier.verify([s.entry], { now: NOW });
      expect([result?.authentic, codes(result)]).to.deep.equal([true, []]);
    });

    it("an expired attestation leaf at --at after its notAfter is CertificateExpired", async () => {
      const validity: [Date, Date] = [new Date("2024-01-01T00:00:00Z"), new Date("2026-01-01T00:00:00Z")];
      const s = synthetic(spec, { fwid, leafValidity: validity });
      const [inside] = await s.verifier.verify([s.entry], { now: new Date("2025-12-31T23:59:59Z") });
      expect(inside?.authentic).to.equal(true);
      const [after] = await s.verifier.verify([s.entry], { now: new Date("2026-01-01T00:00:01Z") });
      expect([after?.authentic, codes(after)]).to.deep.equal([false, ["CertificateExpired"]]);
    });

    it("a signature by another key is SignatureInvalid", async () => {
      const s = synthetic(spec, { fwid });
      const other = makeFakeNvidiaPki({ fwid });
      const evidence = Buffer.from(encodeEvidence(spec, other.leafKey)).toString("base64");
      const [result] = await s.verifier.verify([{ ...s.entry, evidence }], { now: NOW });
      expect([result?.authentic, codes(result)]).to.deep.equal([false, ["SignatureInvalid"]]);
    });
  });

  describe("never throws", () => {
    const garbage: [string, unknown][] = [
      ["evidence that is not base64", { arch: "HOPPER", evidence: "%%%", certChain: "" }],
      ["empty evidence", { arch: "HOPPER", evidence: "", certChain: "" }],
      ["random bytes", { arch: "HOPPER", evidence: Buffer.alloc(200, 7).toString("base64"), certChain: "x" }],
      ["a number for evidence", { arch: "HOPPER", evidence: 42, certChain: "" }],
      ["null", null],
      [
        "valid evidence with a garbage chain",
        { ...sharedGpuEntry(item("nvtrust-hopper-550")), certChain: "junk" },
      ],
    ];
    for (const [name, entry] of garbage) {
      it(`${name} is EvidenceMalformed, not an exception`, async () => {
        const [result] = await verifier.verify([entry as GpuEvidenceEntry], { now: NOW });
        expect(result?.authentic).to.equal(false);
        expect(codes(result)).to.deep.equal(["EvidenceMalformed"]);
      });
    }

    it("an invalid verification time is an error per GPU", async () => {
      const [result] = await verifier.verify([sharedGpuEntry(item("nvtrust-hopper-550"))], {
        now: new Date(NaN),
      });
      expect([result?.authentic, codes(result)]).to.deep.equal([false, ["EvidenceMalformed"]]);
    });
  });
});
