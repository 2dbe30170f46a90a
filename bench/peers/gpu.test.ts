import { expect } from "chai";
import { gpuCases, gpuVerdict } from "./gpu.ts";
import type { GpuResult } from "../../operator/src/attestation/types.ts";

const result = (overrides: Partial<GpuResult>): GpuResult => ({
  index: 0,
  authentic: true,
  nonce: "",
  driverVersion: "",
  vbiosVersion: "",
  measurements: "match",
  revocation: "unchecked",
  errors: [],
  ...overrides,
});

describe("bench-peers GPU side", () => {
  describe("gpuVerdict", () => {
    const cases: [string, GpuResult | undefined, "accept" | "reject"][] = [
      ["authentic, all measurements match, revocation unchecked", result({}), "accept"],
      ["measurements unchecked (no RIM)", result({ measurements: "unchecked" }), "reject"],
      ["a measurement mismatches", result({ measurements: "mismatch" }), "reject"],
      ["not authentic", result({ authentic: false }), "reject"],
      [
        "an error besides matching measurements",
        result({ errors: [{ code: "DuplicateGpu", message: "twice" }] }),
        "reject",
      ],
      ["no result at all", undefined, "reject"],
    ];
    for (const [name, input, want] of cases) {
      it(`${name} → ${want}`, () => {
        expect(gpuVerdict(input)).to.equal(want);
      });
    }
  });

  describe("gpuCases", () => {
    const cases = gpuCases();
    const byItem = new Map(cases.map((c) => [c.name.split(" ")[0], c]));

    it("takes every shared H100 item and no NVSwitch", () => {
      expect([...byItem.keys()].sort()).to.deep.equal([
        "gpu/gonvtrust-hopper-545-fullrim",
        "gpu/nvtrust-hopper-550",
        "gpu/sdk-hopper-580-159",
        "gpu/sdk-hopper-590-12",
      ]);
    });
    it("hands both sides the same RIM files: the driver and VBIOS RIM of 545, the VBIOS RIM of 580", () => {
      const full = byItem.get("gpu/gonvtrust-hopper-545-fullrim");
      expect(full?.rimFiles).to.have.length(2);
      expect(Object.keys(full?.entry.rims ?? {}).sort()).to.deep.equal(["driver", "vbios"]);
      const vbiosOnly = byItem.get("gpu/sdk-hopper-580-159");
      expect(vbiosOnly?.rimFiles).to.have.length(1);
      expect(Object.keys(vbiosOnly?.entry.rims ?? {})).to.deep.equal(["vbios"]);
      expect(byItem.get("gpu/nvtrust-hopper-550")?.entry.rims).to.equal(undefined);
    });
    it("verifies items with RIMs inside the RIM signers' validity and expects only the full-RIM item accepted", () => {
      expect(byItem.get("gpu/gonvtrust-hopper-545-fullrim")).to.include({
        at: "2025-06-20T00:00:00Z",
        expected: "accept",
      });
      const rejected = cases.filter((c) => c.expected === "reject").map((c) => c.name.split(" ")[0]);
      expect(rejected).to.have.length(3);
    });
  });
});
