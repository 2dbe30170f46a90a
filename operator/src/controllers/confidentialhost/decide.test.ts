import { expect } from "chai";
import { aConfidentialHost, anH100 } from "../../../test/support/builders/confidential-host.ts";
import { decideHost, type HostInput } from "./decide.ts";

const now = new Date("2026-11-25T10:01:00Z");
function input(overrides: Partial<HostInput> = {}): HostInput {
  return {
    host: aConfidentialHost(),
    nodeExists: true,
    report: { ok: true },
    now,
    staleAfterMs: 5 * 60_000,
    ...overrides,
  };
}

function validated(decision: ReturnType<typeof decideHost>): {
  status: string;
  reason: string;
  message: string;
} {
  const c = decision.conditions.find((x) => x.type === "Validated");
  return { status: c?.status ?? "", reason: c?.reason ?? "", message: c?.message ?? "" };
}

describe("decideHost", () => {
  it("validates a fresh, signed TDX host whose GPUs are all CC on under vfio-pci", () => {
    const d = decideHost(input());
    expect(validated(d)).to.deep.equal({ status: "True", reason: "HostValid", message: "host validated" });
    expect(d.labels).to.deep.equal({
      "trustgate.io/validated": "true",
      "trustgate.io/tee": "tdx",
      "trustgate.io/gpu-cc": "on",
      "trustgate.io/gpu-count": "2",
    });
    expect(d.pinKeyId, "first key is pinned").to.equal("key-1");
    expect(d.recheckAfterMs).to.equal(4 * 60_000 + 1000);
  });

  const refusals: { name: string; input: HostInput; reason: string; message: string }[] = [
    {
      name: "a GPU with CC mode off",
      input: input({
        host: aConfidentialHost({
          gpus: [anH100("0000:19:00.0"), anH100("0000:45:00.0", { ccMode: "off" })],
        }),
      }),
      reason: "GPUsNotReady",
      message: "GPU 0000:45:00.0 CC mode off",
    },
    {
      name: "a GPU still bound to the nvidia driver",
      input: input({ host: aConfidentialHost({ gpus: [anH100("0000:19:00.0", { driver: "nvidia" })] }) }),
      reason: "GPUsNotReady",
      message: "GPU 0000:19:00.0 bound to nvidia, not vfio-pci",
    },
    {
      name: "IOMMU off",
      input: input({ host: aConfidentialHost({ iommu: { enabled: false, vfioLoaded: true } }) }),
      reason: "IOMMUNotReady",
      message: "IOMMU disabled",
    },
    {
      name: "TDX disabled",
      input: input({ host: aConfidentialHost({ tee: { type: "tdx", enabled: false } }) }),
      reason: "TEENotReady",
      message: "TDX disabled",
    },
    {
      name: "a stale report",
      input: input({ now: new Date("2026-11-25T10:07:30Z") }),
      reason: "ReportStale",
      message: "report stale for 7m",
    },
    {
      name: "a report whose signature does not verify",
      input: input({ report: { ok: false, reason: "JWS signature invalid" } }),
      reason: "ReportSignatureInvalid",
      message: "JWS signature invalid",
    },
    {
      name: "a changed agent key that no admin acknowledged",
      input: input({ host: aConfidentialHost({}, "gpu-node-1", { "trustgate.io/pinned-key-id": "key-0" }) }),
      reason: "AgentKeyChanged",
      message: "agent key changed from key-0 to key-1",
    },
    {
      name: "a host whose Node is gone",
      input: input({ nodeExists: false }),
      reason: "NodeNotFound",
      message: "Node gpu-node-1 not found",
    },
    {
      name: "a host without a report",
      input: input({ host: aConfidentialHost({ report: undefined }) }),
      reason: "NoReport",
      message: "no signed report",
    },
  ];
  for (const r of refusals) {
    it(`refuses ${r.name}`, () => {
      const d = decideHost(r.input);
      const v = validated(d);
      expect(v.status).to.equal("False");
      expect(v.reason).to.equal(r.reason);
      expect(v.message).to.include(r.message);
      expect(d.labels["trustgate.io/validated"]).to.equal("false");
    });
  }

  it("reports every problem at once", () => {
    const host = aConfidentialHost({
      iommu: { enabled: false },
      gpus: [anH100("0000:45:00.0", { ccMode: "unknown" })],
    });
    expect(validated(decideHost(input({ host }))).message).to.equal(
      "IOMMU disabled; GPU 0000:45:00.0 CC mode unknown",
    );
  });

  it("labels a mixed CC host and counts only CC-ready GPUs", () => {
    const host = aConfidentialHost({
      gpus: [anH100("0000:19:00.0"), anH100("0000:45:00.0", { ccMode: "off" })],
    });
    expect(decideHost(input({ host })).labels).to.include({
      "trustgate.io/gpu-cc": "mixed",
      "trustgate.io/gpu-count": "1",
    });
  });

  describe("a protected-PCIe (PPCIe) HGX board", () => {
    const board = ["18", "2a", "3a", "5d", "9a", "ab", "ba", "db"].map((bus) =>
      anH100(`0000:${bus}:00.0`, { ccMode: "ppcie" }),
    );
    const switches = (modes: ("on" | "off")[]) =>
      modes.map((ppcieMode, i) => ({
        pciAddress: `0000:0${5 + i}:00.0`,
        vendorId: "0x10de",
        deviceId: "0x22a3",
        driver: "vfio-pci",
        iommuGroup: String(10 + i),
        iommuGroupViable: true,
        ppcieMode,
      }));

    it("validates 8 GPUs and 4 NVSwitches all in PPCIe on vfio-pci, labelled gpu-cc=ppcie", () => {
      const d = decideHost(
        input({ host: aConfidentialHost({ gpus: board, nvswitches: switches(["on", "on", "on", "on"]) }) }),
      );
      expect(validated(d).status).to.equal("True");
      expect(d.conditions.find((c) => c.type === "GPUsReady")).to.deep.include({
        status: "True",
        reason: "AllGPUsProtectedPCIe",
        message: "8 GPUs and 4 NVSwitches in protected PCIe mode on vfio-pci",
      });
      expect(d.labels).to.include({ "trustgate.io/gpu-cc": "ppcie", "trustgate.io/gpu-count": "8" });
    });

    it("refuses the board when 3 of 4 NVSwitches are in PPCIe, naming the fourth", () => {
      const d = decideHost(
        input({ host: aConfidentialHost({ gpus: board, nvswitches: switches(["on", "on", "on", "off"]) }) }),
      );
      expect(validated(d)).to.deep.include({
        status: "False",
        reason: "GPUsNotReady",
        message: "GPUs in protected PCIe mode but NVSwitches 0000:08:00.0 (off) not",
      });
      expect(d.labels["trustgate.io/gpu-cc"]).to.equal("mixed");
    });

    it("refuses GPUs half in CC mode, half in PPCIe, naming both groups", () => {
      const gpus = board.map((g, i) => (i < 4 ? { ...g, ccMode: "on" as const } : g));
      const d = decideHost(
        input({ host: aConfidentialHost({ gpus, nvswitches: switches(["on", "on", "on", "on"]) }) }),
      );
      expect(validated(d).message).to.equal(
        "mixed modes: GPUs 0000:18:00.0, 0000:2a:00.0, 0000:3a:00.0, 0000:5d:00.0 in CC mode on, GPUs 0000:9a:00.0, 0000:ab:00.0, 0000:ba:00.0, 0000:db:00.0 in protected PCIe mode",
      );
    });
  });

  it("refuses a GPU whose IOMMU group is shared with a device off vfio-pci, or whose viability is not reported", () => {
    const host = aConfidentialHost({
      gpus: [
        anH100("0000:19:00.0", { iommuGroupViable: false, iommuGroupBlockers: ["0000:19:00.1 (mlx5_core)"] }),
        anH100("0000:3b:00.0", { iommuGroupViable: undefined }),
      ],
    });
    expect(validated(decideHost(input({ host }))).message).to.equal(
      "GPU 0000:19:00.0 IOMMU group 41 not viable: 0000:19:00.1 (mlx5_core) not on vfio-pci; GPU 0000:3b:00.0 IOMMU group 41 viability not reported",
    );
  });

  it("validates a GPU-less host (CPU-only CVMs) with gpu-cc none", () => {
    const d = decideHost(input({ host: aConfidentialHost({ gpus: [] }) }));
    expect(validated(d).status).to.equal("True");
    expect(d.conditions.find((c) => c.type === "GPUsReady")?.reason).to.equal("NoGPUs");
    expect(d.labels["trustgate.io/gpu-cc"]).to.equal("none");
  });

  it("re-pins a changed key once an admin acknowledged it", () => {
    const host = aConfidentialHost({}, "gpu-node-1", {
      "trustgate.io/pinned-key-id": "key-0",
      "trustgate.io/acknowledged-key-id": "key-1",
    });
    const d = decideHost(input({ host }));
    expect(d.pinKeyId).to.equal("key-1");
    expect(validated(d).status).to.equal("True");
  });

  it("never pins a key whose report does not verify", () => {
    expect(decideHost(input({ report: { ok: false, reason: "bad" } })).pinKeyId).to.equal(undefined);
  });
});
