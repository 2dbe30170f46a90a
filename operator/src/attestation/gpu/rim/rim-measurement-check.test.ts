import { expect } from "chai";
import {
  SHARED_GPU_ITEMS,
  nvidiaItemDir,
  sharedGpuEntry,
} from "../../../../test/fixtures/nvidia/shared-items.ts";
import { createLocalGpuVerifier } from "../verifier.ts";
import { createRimAppraiser, rimLookups } from "./rim-measurement-check.ts";
import { directoryRimSource } from "./rim-source.ts";
import { sharedRim } from "./rim.test.ts";
import { parseSpdmEvidence } from "../spdm-evidence.ts";
import type { DeviceKind } from "../device-chain.ts";

function item(name: string) {
  const found = SHARED_GPU_ITEMS.find((i) => i.item === name);
  if (found === undefined) throw new Error(name);
  return found;
}

function verifierWithRimDir(name: string) {
  return createLocalGpuVerifier({
    measurements: createRimAppraiser({ source: directoryRimSource(`${nvidiaItemDir(name)}/rims`) }),
  });
}

describe("RIM appraisal of the shared NVIDIA items (MANIFEST verdicts)", function () {
  this.timeout(30_000);

  it("RIM IDs follow NVIDIA's naming for GPUs and the LS10 switch", () => {
    const ids = (name: string, kind: DeviceKind) => {
      const spdm = parseSpdmEvidence(Buffer.from(sharedGpuEntry(item(name)).evidence, "base64"));
      return rimLookups({ spdm, device: { kind, arch: "HOPPER" } as never }).map((l) => l.id);
    };
    expect(ids("gonvtrust-hopper-545-fullrim", "gpu")).to.deep.equal([
      "NV_GPU_DRIVER_GH100_545.00",
      "NV_GPU_VBIOS_1010_0200_882_96005E0001",
    ]);
    expect(ids("nvtrust-hopper-550", "gpu")).to.deep.equal([
      "NV_GPU_DRIVER_GH100_550.90.07",
      "NV_GPU_VBIOS_1010_0200_882_96009F0001",
    ]);
    expect(ids("sdk-hopper-590-12", "gpu")).to.deep.equal([
      "NV_GPU_DRIVER_GH100_590.12",
      "NV_GPU_VBIOS_G520_0200_885_9600A50001",
    ]);
    expect(ids("sdk-nvswitch-ls10", "switch")).to.deep.equal(["NV_SWITCH_BIOS_5612_0002_890_9610550001"]);
  });

  it("gonvtrust-hopper-545-fullrim: all 21 driver + 12 VBIOS active measurements match at 2024-06-01", async () => {
    const [result] = await verifierWithRimDir("gonvtrust-hopper-545-fullrim").verify(
      [sharedGpuEntry(item("gonvtrust-hopper-545-fullrim"))],
      { now: new Date("2024-06-01T00:00:00Z") },
    );
    expect(result?.errors).to.deep.equal([]);
    expect(result?.measurements).to.equal("match");
    expect(result?.rim).to.deep.equal({ active: 33, matched: 33 });
  });

  it("gonvtrust-hopper-545-fullrim: after 2025-06-22 the VBIOS RIM signer is expired (CertificateExpired, unchecked)", async () => {
    const [result] = await verifierWithRimDir("gonvtrust-hopper-545-fullrim").verify(
      [sharedGpuEntry(item("gonvtrust-hopper-545-fullrim"))],
      { now: new Date("2025-06-23T00:00:00Z") },
    );
    expect(result?.authentic).to.equal(true);
    expect(result?.measurements).to.equal("unchecked");
    expect(result?.errors.map((e) => e.code)).to.deep.equal(["CertificateExpired"]);
    expect(result?.errors[0]?.message).to.match(
      /^vbios RIM NV_GPU_VBIOS_1010_0200_882_96005E0001: RIM signer chain/,
    );
  });

  it("RIMs carried in the bundle are used like fetched ones (and still verified)", async () => {
    const entry = {
      ...sharedGpuEntry(item("gonvtrust-hopper-545-fullrim")),
      rims: { driver: sharedRim("driver545"), vbios: sharedRim("vbios545") },
    };
    const [result] = await createLocalGpuVerifier().verify([entry], {
      now: new Date("2024-06-01T00:00:00Z"),
    });
    expect([result?.measurements, result?.errors]).to.deep.equal(["match", []]);
    const swapped = { ...entry, rims: { driver: sharedRim("vbios545"), vbios: sharedRim("driver545") } };
    const [bad] = await createLocalGpuVerifier().verify([swapped], { now: new Date("2024-06-01T00:00:00Z") });
    expect(bad?.measurements).to.equal("mismatch");
    expect(bad?.errors.map((e) => e.code)).to.include("MeasurementMismatch");
  });

  it("sdk-hopper-580-159: against the 2023 VBIOS RIM 11/12 match, index 9 mismatches; the driver RIM is unavailable", async () => {
    const [result] = await verifierWithRimDir("sdk-hopper-580-159").verify(
      [sharedGpuEntry(item("sdk-hopper-580-159"))],
      { now: new Date("2025-06-01T00:00:00Z") },
    );
    expect(result?.authentic).to.equal(true);
    expect(result?.measurements).to.equal("mismatch");
    expect(result?.rim).to.deep.equal({ active: 12, matched: 11 });
    expect(result?.errors.map((e) => e.code)).to.deep.equal(["RimUnavailable", "MeasurementMismatch"]);
    expect(result?.errors[1]?.message).to.match(
      /^1 of 12 active measurements differ from the RIMs: vbios index 9 \(evidence 059b32e7.*RIM 7f3e9382/,
    );
  });

  it("sdk-nvswitch-ls10: all 31 active switch BIOS measurements match inside the RIM signer's validity", async () => {
    const [result] = await verifierWithRimDir("sdk-nvswitch-ls10").verify(
      [sharedGpuEntry(item("sdk-nvswitch-ls10"))],
      { now: new Date("2026-06-01T00:00:00Z") },
    );
    expect([result?.authentic, result?.deviceType, result?.measurements]).to.deep.equal([
      true,
      "switch",
      "match",
    ]);
    expect(result?.rim).to.deep.equal({ active: 31, matched: 31 });
    expect(result?.errors).to.deep.equal([]);
  });

  for (const name of ["nvtrust-hopper-550", "sdk-hopper-590-12"]) {
    it(`${name}: its RIMs are not available offline (RimUnavailable, unchecked)`, async () => {
      const shared = item(name);
      const [result] = await createLocalGpuVerifier().verify([sharedGpuEntry(shared)], {
        now: new Date(shared.verdicts[0]?.at ?? ""),
      });
      expect([result?.authentic, result?.measurements]).to.deep.equal([true, "unchecked"]);
      expect(result?.errors.map((e) => e.code)).to.deep.equal(["RimUnavailable", "RimUnavailable"]);
    });
  }
});
