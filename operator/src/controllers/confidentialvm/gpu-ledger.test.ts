import { expect } from "chai";
import type { ConfidentialVM } from "../../api/v1alpha1/generated/types.ts";
import { GpuLedger } from "./gpu-ledger.ts";

function placedCvm(name: string, nodeName: string, addresses: string[]): ConfidentialVM {
  return {
    apiVersion: "trustgate.io/v1alpha1",
    kind: "ConfidentialVM",
    metadata: { name, namespace: "team-a" },
    spec: { tee: "snp", policyRef: "p", image: { containerDisk: "img" }, gpus: { count: addresses.length } },
    status: { nodeName, gpus: addresses.map((pciAddress) => ({ pciAddress, model: "H100" })) },
  };
}

describe("GpuLedger", function () {
  const a = placedCvm("a", "node-1", ["0000:18:00.0", "0000:28:00.0"]);
  const b = placedCvm("b", "node-2", ["0000:18:00.0"]);

  it("names each recorded GPU's holder, on every node or on one", function () {
    const ledger = new GpuLedger();
    expect(Object.fromEntries(ledger.assignments([a, b]))).to.deep.equal({
      "node-1/0000:18:00.0": "team-a/a",
      "node-1/0000:28:00.0": "team-a/a",
      "node-2/0000:18:00.0": "team-a/b",
    });
    expect(Object.fromEntries(ledger.assignments([a, b], "node-2"))).to.deep.equal({
      "node-2/0000:18:00.0": "team-a/b",
    });
    expect(ledger.assignments([a, b], "node-3").size).to.equal(0);
  });

  it("reads each new version of a CVM afresh (a remembered placement belongs to one cached object)", function () {
    const ledger = new GpuLedger();
    expect(ledger.assignments([a]).get("node-1/0000:18:00.0")).to.equal("team-a/a");
    const moved = placedCvm("a", "node-2", ["0000:38:00.0"]);
    expect(Object.fromEntries(ledger.assignments([moved]))).to.deep.equal({
      "node-2/0000:38:00.0": "team-a/a",
    });
    const released = { ...moved, status: {} };
    expect(ledger.assignments([released]).size, "a CVM whose status no longer holds GPUs").to.equal(0);
  });

  it("counts this process' reservation before the cache shows it, on its node only", function () {
    const ledger = new GpuLedger();
    ledger.reserve("team-a/c", { nodeName: "node-2", gpus: [{ pciAddress: "0000:28:00.0", model: "H100" }] });
    expect(ledger.assignments([a, b], "node-2").get("node-2/0000:28:00.0")).to.equal("team-a/c");
    expect(ledger.assignments([a, b], "node-1").has("node-2/0000:28:00.0")).to.equal(false);
  });
});
