import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { HostTree } from "../../../../test/support/builders/host-tree.ts";
import {
  defaultProviders,
  HGX_BOOT_ID,
  hostFixture,
  PROBE_FIXTURE_NOW,
} from "../../../../test/support/host-fixtures.ts";
import { HostRoot } from "../../host-root.ts";
import { ccModeFromNodeLabels, NodeLabelsProvider } from "./node-labels-provider.ts";
import { ProbeFileProvider } from "./probe-file-provider.ts";
import { resolveCcModes, type DeviceRef } from "./provider.ts";
import { StateFileProvider } from "./state-file-provider.ts";

const gpu: DeviceRef = { pciAddress: "0000:18:00.0", kind: "gpu", driver: "vfio-pci" };
const gpu2: DeviceRef = { pciAddress: "0000:2a:00.0", kind: "gpu", driver: "vfio-pci" };
const sw: DeviceRef = { pciAddress: "0000:05:00.0", kind: "nvswitch", driver: "vfio-pci" };
const labels = (state?: string, ready?: string, desired?: string): Record<string, string> => ({
  ...(state === undefined ? {} : { "nvidia.com/cc.mode.state": state }),
  ...(ready === undefined ? {} : { "nvidia.com/cc.ready.state": ready }),
  ...(desired === undefined ? {} : { "nvidia.com/cc.mode": desired }),
});

describe("CC mode sources", () => {
  describe("k8s-cc-manager Node labels", () => {
    const cases: [string, Record<string, string>, ReturnType<typeof ccModeFromNodeLabels>][] = [
      ["applied on", labels("on", "true", "on"), { kind: "mode", mode: "on" }],
      ["applied ppcie", labels("ppcie", "true", "ppcie"), { kind: "mode", mode: "ppcie" }],
      ["applied off", labels("off", "false"), { kind: "mode", mode: "off" }],
      [
        "applied devtools (ready empty)",
        labels("devtools", "", "devtools"),
        { kind: "mode", mode: "devtools" },
      ],
      ["the manager's default (no desired label)", labels("on", "true"), { kind: "mode", mode: "on" }],
      ["no CC manager on the node", labels(undefined, undefined, "on"), { kind: "absent" }],
      [
        "a failed switch",
        labels("failed", "", "on"),
        {
          kind: "refused",
          reason: "k8s-cc-manager failed to apply nvidia.com/cc.mode=on (nvidia.com/cc.mode.state=failed)",
        },
      ],
      [
        "an old manager's success",
        labels("success", undefined, "on"),
        {
          kind: "refused",
          reason:
            'nvidia.com/cc.mode.state="success" names no mode (on, off, devtools, ppcie); k8s-cc-manager releases that write success/failed are not supported',
        },
      ],
      [
        "a hand-edited state that contradicts ready",
        labels("on", "false", "on"),
        {
          kind: "refused",
          reason:
            'nvidia.com/cc.ready.state="false" contradicts nvidia.com/cc.mode.state=on (k8s-cc-manager writes "true")',
        },
      ],
      [
        "a change still being applied",
        labels("on", "true", "off"),
        {
          kind: "refused",
          reason: 'mode change pending: nvidia.com/cc.mode="off" but nvidia.com/cc.mode.state=on',
        },
      ],
    ];
    for (const [name, given, expected] of cases)
      it(`decides ${expected.kind} for ${name}`, () => {
        expect(ccModeFromNodeLabels(given)).to.deep.equal(expected);
      });

    it("applies ppcie to every GPU and NVSwitch, on only to the GPUs, and says why when the labels were unreadable", async () => {
      const ppcie = await new NodeLabelsProvider({ labels: labels("ppcie", "true") }).query([gpu, sw]);
      expect([...ppcie.gpus]).to.deep.equal([["0000:18:00.0", { mode: "ppcie" }]]);
      expect([...ppcie.nvswitches]).to.deep.equal([["0000:05:00.0", "on"]]);
      const on = await new NodeLabelsProvider({ labels: labels("on", "true") }).query([gpu, sw]);
      expect(on.nvswitches.size).to.equal(0);
      const failed = await new NodeLabelsProvider({ error: "GET Node n1: 403 Forbidden" }).query([gpu]);
      expect(failed.problems).to.deep.equal(["Node labels unavailable: GET Node n1: 403 Forbidden"]);
      expect(failed.gpus.size).to.equal(0);
    });
  });

  describe("cc-probe state file", () => {
    const query = (name: Parameters<typeof hostFixture>[0], now = PROBE_FIXTURE_NOW, maxAgeMs?: number) =>
      new ProbeFileProvider({ now, ...(maxAgeMs === undefined ? {} : { maxAgeMs }) }).query(
        [gpu, gpu2, sw],
        hostFixture(name),
      );

    it("answers from a fresh file of this boot, GPUs and switches", async () => {
      const report = await query("tdx-8xh100-probe-fresh");
      expect(report.problems).to.deep.equal([]);
      expect(report.gpus.get("0000:18:00.0")).to.deep.equal({ mode: "on" });
      expect(report.nvswitches.get("0000:05:00.0")).to.equal("off");
    });

    it("refuses a file copied from another boot, whatever it says", async () => {
      const report = await query("tdx-8xh100-probe-other-boot");
      expect(report.gpus.size + report.nvswitches.size).to.equal(0);
      expect(report.problems).to.deep.equal([
        `/run/trustgate/cc-probe.json refused: written in another boot (its boot ID 0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a, this boot ${HGX_BOOT_ID}); run trustgate cc-probe again`,
      ]);
    });

    it("refuses results older than the bound (24 h by default; configurable)", async () => {
      const stale = await query("tdx-8xh100-probe-stale");
      expect(stale.gpus.size).to.equal(0);
      expect(stale.problems[0]).to.equal(
        "/run/trustgate/cc-probe.json refused for GPU 0000:18:00.0: probed 73.0h ago at 2026-02-27T08:00:00Z, older than 24.0h",
      );
      const relaxed = await query("tdx-8xh100-probe-stale", PROBE_FIXTURE_NOW, 96 * 3_600_000);
      expect(relaxed.gpus.size).to.equal(2);
      const fresh = await query("tdx-8xh100-probe-fresh", new Date("2026-03-03T08:00:01Z"));
      expect(fresh.gpus.size, "the fresh file turns stale a day later").to.equal(0);
    });

    describe("written by hand", () => {
      let root: string;
      let tree: HostTree;
      beforeEach(() => {
        root = mkdtempSync(join(tmpdir(), "probe-file-"));
        tree = new HostTree(root).attr("proc/sys/kernel/random/boot_id", HGX_BOOT_ID);
      });
      afterEach(() => {
        rmSync(root, { recursive: true, force: true });
      });
      const write = (devices: Record<string, unknown>) =>
        tree.file(
          "run/trustgate/cc-probe.json",
          JSON.stringify({
            format: "trustgate-cc-probe/v1",
            bootId: HGX_BOOT_ID,
            writtenAt: "2026-03-02T08:00:00Z",
            tool: "python3 -m nvidia_gpu_tools",
            devices,
          }),
        );

      it("reports skipped devices, future times and kind mismatches instead of answering", async () => {
        write({
          "0000:18:00.0": { kind: "gpu", skipped: "in use: PCI enable count 1", at: "2026-03-02T08:00:00Z" },
          "0000:2a:00.0": { kind: "gpu", ccMode: "on", probedAt: "2026-03-02T12:00:00Z" },
          "0000:05:00.0": { kind: "gpu", ccMode: "on", probedAt: "2026-03-02T08:00:00Z" },
        });
        const report = await new ProbeFileProvider({ now: PROBE_FIXTURE_NOW }).query(
          [gpu, gpu2, sw],
          new HostRoot(root),
        );
        expect(report.gpus.size + report.nvswitches.size).to.equal(0);
        expect(report.problems).to.deep.equal([
          "/run/trustgate/cc-probe.json: the probe skipped GPU 0000:18:00.0 at 2026-03-02T08:00:00Z: in use: PCI enable count 1",
          "/run/trustgate/cc-probe.json refused for GPU 0000:2a:00.0: probed in the future (2026-03-02T12:00:00Z)",
          "/run/trustgate/cc-probe.json refused for NVSwitch 0000:05:00.0: recorded as gpu",
        ]);
      });

      it("is not used when this boot's ID cannot be read", async () => {
        write({ "0000:18:00.0": { kind: "gpu", ccMode: "on", probedAt: "2026-03-02T08:00:00Z" } });
        rmSync(join(root, "proc"), { recursive: true });
        const report = await new ProbeFileProvider({ now: PROBE_FIXTURE_NOW }).query(
          [gpu],
          new HostRoot(root),
        );
        expect(report.gpus.size).to.equal(0);
        expect(report.problems).to.deep.equal([
          "/run/trustgate/cc-probe.json not used: this boot's ID is unknown (/proc/sys/kernel/random/boot_id missing)",
        ]);
      });
    });
  });

  describe("the manual file", () => {
    let root: string;
    let tree: HostTree;
    beforeEach(() => {
      root = mkdtempSync(join(tmpdir(), "cc-file-"));
      tree = new HostTree(root);
    });
    afterEach(() => {
      rmSync(root, { recursive: true, force: true });
    });

    it("answers for the GPUs and NVSwitches it names and checks what it says", async () => {
      tree.file(
        "etc/trustgate/cc-mode.json",
        JSON.stringify({
          gpus: {
            "0000:18:00.0": { ccMode: "ppcie", vbiosVersion: "96.00.9f.00.01" },
            "0000:2a:00.0": { ccMode: "sure" },
            "18:00.0": { ccMode: "on" },
          },
          nvswitches: { "0000:05:00.0": { ppcieMode: "on" }, "0000:06:00.0": { ppcieMode: "yes" } },
        }),
      );
      const report = await new StateFileProvider().query(
        [gpu, gpu2, sw, { pciAddress: "0000:06:00.0", kind: "nvswitch", driver: "vfio-pci" }],
        new HostRoot(root),
      );
      expect([...report.gpus]).to.deep.equal([
        ["0000:18:00.0", { mode: "ppcie", vbiosVersion: "96.00.9F.00.01" }],
      ]);
      expect([...report.nvswitches]).to.deep.equal([["0000:05:00.0", "on"]]);
      expect(report.problems).to.deep.equal([
        "/etc/trustgate/cc-mode.json malformed: NVSwitch 0000:06:00.0 ppcieMode must be on or off",
        "/etc/trustgate/cc-mode.json malformed: GPU 0000:2a:00.0 ccMode must be one of on, off, devtools, ppcie",
        '/etc/trustgate/cc-mode.json malformed: "18:00.0" is not a PCI address',
      ]);
    });

    it("is silent when the file does not exist", async () => {
      const report = await new StateFileProvider().query([gpu], new HostRoot(root));
      expect([report.gpus.size, report.problems]).to.deep.equal([0, []]);
    });
  });

  describe("precedence", () => {
    let root: string;
    let tree: HostTree;
    let host: HostRoot;
    beforeEach(() => {
      root = mkdtempSync(join(tmpdir(), "cc-precedence-"));
      tree = new HostTree(root).attr("proc/sys/kernel/random/boot_id", HGX_BOOT_ID);
      host = new HostRoot(root);
    });
    afterEach(() => {
      rmSync(root, { recursive: true, force: true });
    });
    const file = (mode: string) =>
      tree.file(
        "etc/trustgate/cc-mode.json",
        JSON.stringify({ gpus: { "0000:18:00.0": { ccMode: mode }, "0000:2a:00.0": { ccMode: mode } } }),
      );

    it("auto: the attacker's file saying on cannot outvote the CC manager's labels saying off", async () => {
      file("on");
      const resolved = await resolveCcModes(
        defaultProviders(PROBE_FIXTURE_NOW, labels("off", "false")),
        [gpu, gpu2],
        host,
      );
      expect(resolved.source).to.equal("labels");
      expect(resolved.gpus.get("0000:18:00.0")).to.deep.equal({ mode: "unknown" });
      expect(resolved.problems).to.include(
        "GPU 0000:18:00.0 CC mode unknown: sources disagree (labels says off, file says on)",
      );
    });

    it("auto: nor can labels saying on outvote a file saying off; sources that agree are believed", async () => {
      file("off");
      const against = await resolveCcModes(
        defaultProviders(PROBE_FIXTURE_NOW, labels("on", "true")),
        [gpu],
        host,
      );
      expect(against.gpus.get("0000:18:00.0")?.mode).to.equal("unknown");
      file("on");
      const agree = await resolveCcModes(
        defaultProviders(PROBE_FIXTURE_NOW, labels("on", "true")),
        [gpu],
        host,
      );
      expect(agree).to.deep.include({ source: "labels", problems: [] });
      expect(agree.gpus.get("0000:18:00.0")?.mode).to.equal("on");
    });

    it("auto: labels first, then the probe file, then the file; the first that answers names the source", async () => {
      file("on");
      const fileOnly = await resolveCcModes(defaultProviders(PROBE_FIXTURE_NOW), [gpu], host);
      expect(fileOnly.source).to.equal("file");
      const refusedLabels = await resolveCcModes(
        defaultProviders(PROBE_FIXTURE_NOW, labels("failed", "", "on")),
        [gpu],
        host,
      );
      expect(refusedLabels.source, "refused labels answer nothing; the file still does").to.equal("file");
    });

    it("an explicit source is the only one asked: --cc-mode-source file is the admin's override", async () => {
      file("on");
      const resolved = await resolveCcModes(
        defaultProviders(PROBE_FIXTURE_NOW, labels("off", "false"), { ccModeSource: "file" }),
        [gpu],
        host,
      );
      expect(resolved).to.deep.include({ source: "file", problems: [] });
      expect(resolved.gpus.get("0000:18:00.0")?.mode).to.equal("on");
    });

    it("a GPU the chosen source does not name stays unknown, even if a later source names it", async () => {
      tree.file("etc/trustgate/cc-mode.json", JSON.stringify({ gpus: { "0000:18:00.0": { ccMode: "on" } } }));
      const resolved = await resolveCcModes(defaultProviders(PROBE_FIXTURE_NOW), [gpu, gpu2], host);
      expect(resolved.gpus.get("0000:2a:00.0")).to.deep.equal({ mode: "unknown" });
      expect(resolved.problems).to.deep.equal([
        "GPU 0000:2a:00.0 CC mode unknown: source file has no answer for it",
      ]);
    });
  });
});
