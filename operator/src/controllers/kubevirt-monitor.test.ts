import { expect } from "chai";
import { type Logger, pino } from "pino";
import { exampleKubeVirt } from "../../test/support/kubevirt/installation.ts";
import type { KubeVirt } from "../kubevirt/generated/types.ts";
import type { WatchState } from "../runtime/informer.ts";
import { KubeVirtMonitor } from "./kubevirt-monitor.ts";

interface Line {
  level: number;
  msg: string;
  missing?: string[];
  failing?: Record<string, string>;
}

function capture(): { log: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const log = pino({ level: "debug" }, { write: (line: string) => lines.push(JSON.parse(line) as Line) });
  return { log, lines };
}

describe("KubeVirtMonitor", () => {
  function setUp(kubevirts: KubeVirt[] = [exampleKubeVirt()]) {
    const { log, lines } = capture();
    const states: Record<string, WatchState> = { vms: "syncing", vmis: "syncing", kubevirts: "syncing" };
    const monitor = new KubeVirtMonitor(log, () => kubevirts);
    for (const path of Object.keys(states)) monitor.track({ path, state: () => states[path] ?? "syncing" });
    return { monitor, lines, states, kubevirts };
  }

  it("without KubeVirt: one error naming the missing resources, however often it is re-evaluated", () => {
    const { monitor, lines, states } = setUp();
    states["vms"] = "absent";
    states["vmis"] = "absent";
    states["kubevirts"] = "absent";
    for (let i = 0; i < 20; i++) monitor.update();
    expect(lines).to.have.length(1);
    expect(lines[0]).to.deep.include({
      level: 50,
      msg: "KubeVirt CRDs not installed: VirtualMachines cannot be launched; host validation continues",
      missing: ["vms", "vmis", "kubevirts"],
    });
    expect(monitor.api()).to.deep.equal({ state: "absent" });
  });

  it("absent while any one resource is absent, syncing while any is not listed, else synced with the CRs", () => {
    const { monitor, states, kubevirts } = setUp();
    expect(monitor.api().state).to.equal("syncing");
    states["kubevirts"] = "absent";
    states["vms"] = "synced";
    expect(monitor.api().state).to.equal("absent");
    states["kubevirts"] = "synced";
    expect(monitor.api().state).to.equal("syncing");
    states["vmis"] = "synced";
    const api = monitor.api();
    expect(api.state).to.equal("synced");
    if (api.state === "synced") {
      expect(api.kubevirts.map((kv) => kv.metadata?.name)).to.deep.equal(
        kubevirts.map((kv) => kv.metadata?.name),
      );
      expect(api.invalid).to.deep.equal({});
    }
  });

  it("logs when KubeVirt appears and when the failing checks change, not on every event", () => {
    const kubevirts = [exampleKubeVirt()];
    const { monitor, lines, states } = setUp(kubevirts);
    states["vms"] = "absent";
    monitor.update();
    // Installing: the CRD exists before the API server serves it (a 503 leaves the watch syncing).
    states["vms"] = "syncing";
    monitor.update();
    for (const key of Object.keys(states)) states[key] = "synced";
    monitor.update();
    monitor.update();
    expect(lines.map((l) => l.msg)).to.deep.equal([
      "KubeVirt CRDs not installed: VirtualMachines cannot be launched; host validation continues",
      "KubeVirt CRDs installed: VirtualMachines can be launched once KubeVirt is ready",
      "KubeVirt preflight: every check passes",
    ]);
    kubevirts[0] = { ...exampleKubeVirt(), status: { phase: "Deploying" } };
    monitor.update();
    monitor.update();
    expect(lines).to.have.length(4);
    expect(lines[3]?.level).to.equal(40);
    expect(Object.keys(lines[3]?.failing ?? {})).to.deep.equal(["deployed"]);
    expect(monitor.checks().find((c) => c.check === "deployed")?.ok).to.equal(false);
  });

  it("reads malformed KubeVirt CRs without throwing and names what it ignored", () => {
    const malformed = exampleKubeVirt() as unknown as { spec: { configuration: Record<string, unknown> } };
    malformed.spec.configuration["developerConfiguration"] = { featureGates: "WorkloadEncryptionTDX" };
    const { monitor, lines, states } = setUp([malformed as unknown as KubeVirt]);
    for (const key of Object.keys(states)) states[key] = "synced";
    monitor.update();
    const checks = Object.fromEntries(monitor.checks().map((c) => [c.check, c]));
    expect(checks["config-valid"]?.ok).to.equal(false);
    expect(checks["config-valid"]?.message).to.equal(
      "KubeVirt kubevirt/kubevirt is malformed, so these fields were ignored: spec.configuration.developerConfiguration.featureGates is not a list of strings",
    );
    expect(checks["feature-gate-tdx"]?.ok).to.equal(false);
    expect(Object.keys(lines.at(-1)?.failing ?? {})).to.include.members(["config-valid", "feature-gate-tdx"]);
  });
});
