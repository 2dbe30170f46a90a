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

  it("one node's holders are every node's holders on that node, reservations winning over the cache", function () {
    const ledger = new GpuLedger();
    const cvms = Array.from({ length: 30 }, (_, i) =>
      placedCvm(`cvm-${String(i)}`, `node-${String(i % 4)}`, [`0000:${String(10 + (i % 7))}:00.0`]),
    );
    // A reservation that moves a cached CVM to another node, and one for a CVM the cache has not seen yet.
    ledger.reserve("team-a/cvm-5", {
      nodeName: "node-3",
      gpus: [{ pciAddress: "0000:99:00.0", model: "H100" }],
    });
    ledger.reserve("team-a/new", {
      nodeName: "node-1",
      gpus: [{ pciAddress: "0000:98:00.0", model: "H100" }],
    });
    const all = ledger.assignments(cvms);
    for (const node of ["node-0", "node-1", "node-2", "node-3", "node-9"]) {
      const expected = Object.fromEntries([...all].filter(([claim]) => claim.startsWith(`${node}/`)));
      expect(Object.fromEntries(ledger.assignments(cvms, node)), node).to.deep.equal(expected);
    }
    expect(ledger.assignments(cvms, "node-3").get("node-3/0000:99:00.0")).to.equal("team-a/cvm-5");
    expect(ledger.assignments(cvms, "node-1").get("node-1/0000:98:00.0")).to.equal("team-a/new");
    expect([...ledger.assignments(cvms, "node-1").values()]).to.not.include("team-a/cvm-5");
  });
});
