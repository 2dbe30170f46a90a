import type { V1Node } from "@kubernetes/client-node";
import { expect } from "chai";
import { exampleKubeVirt } from "../../test/support/kubevirt/installation.ts";
import type { KubeVirt } from "./generated/types.ts";
import {
  activeKubeVirt,
  clusterChecks,
  clusterFindings,
  type ClusterPreflightInput,
  featureGateEnabled,
  nodeProblems,
} from "./preflight.ts";

const H100_SXM = "nvidia.com/GH100_H100_SXM5_80GB";

/** The documented KubeVirt CR (docs/examples/kubevirt.yaml), deployed, with `change` applied to a copy. */
function kubevirt(change: (kv: KubeVirt) => void = () => undefined): KubeVirt {
  const kv = structuredClone(exampleKubeVirt());
  change(kv);
  return kv;
}

const developer = (kv: KubeVirt) => {
  kv.spec.configuration ??= {};
  kv.spec.configuration.developerConfiguration ??= {};
  return kv.spec.configuration.developerConfiguration;
};

function reasonsOf(input: Partial<ClusterPreflightInput> & { kv?: KubeVirt }): string[] {
  return clusterFindings({
    api: input.api ?? { state: "synced", kubevirts: [input.kv ?? kubevirt()] },
    tee: input.tee ?? "tdx",
    deviceResources: input.deviceResources ?? [H100_SXM],
    needsCdi: input.needsCdi ?? false,
    ...(input.usesHostDevices === undefined ? {} : { usesHostDevices: input.usesHostDevices }),
    ...(input.dataVolumeApi === undefined ? {} : { dataVolumeApi: input.dataVolumeApi }),
  }).map((f) => `${f.reason}: ${f.message}`);
}

describe("KubeVirt preflight: the cluster's KubeVirt", () => {
  it("passes the documented KubeVirt CR for a TDX and an SNP VM with an H100", () => {
    expect(reasonsOf({ tee: "tdx" })).to.deep.equal([]);
    expect(reasonsOf({ tee: "snp", deviceResources: ["nvidia.com/GH100_H100_PCIE"] })).to.deep.equal([]);
  });

  const cases: {
    name: string;
    input: Partial<ClusterPreflightInput> & { kv?: KubeVirt };
    want: RegExp[];
  }[] = [
    {
      name: "KubeVirt CRDs absent",
      input: { api: { state: "absent" } },
      want: [/^KubeVirtNotInstalled: KubeVirt CRDs not installed/],
    },
    {
      name: "caches not listed yet",
      input: { api: { state: "syncing" } },
      want: [/^KubeVirtNotSynced:/],
    },
    {
      name: "no KubeVirt CR",
      input: { api: { state: "synced", kubevirts: [] } },
      want: [/^KubeVirtNotDeployed: no KubeVirt CR/],
    },
    {
      name: "KubeVirt still deploying",
      input: { kv: kubevirt((kv) => (kv.status = { phase: "Deploying" })) },
      want: [/^KubeVirtNotDeployed: KubeVirt kubevirt\/kubevirt is in phase Deploying, not Deployed/],
    },
    {
      name: "TDX gate (Alpha) not listed",
      input: { kv: kubevirt((kv) => (developer(kv).featureGates = ["WorkloadEncryptionSEV"])) },
      want: [/^FeatureGateDisabled: .*WorkloadEncryptionTDX \(Alpha\) is not listed in .*featureGates/],
    },
    {
      name: "SEV gate disabled explicitly",
      input: {
        tee: "snp",
        deviceResources: [],
        kv: kubevirt((kv) => {
          developer(kv).featureGates = [];
          developer(kv).disabledFeatureGates = ["WorkloadEncryptionSEV"];
        }),
      },
      want: [/^FeatureGateDisabled: .*WorkloadEncryptionSEV is listed in .*disabledFeatureGates/],
    },
    {
      name: "SEV gate not listed on KubeVirt v1.8 (Alpha there)",
      input: {
        tee: "snp",
        deviceResources: [],
        kv: kubevirt((kv) => {
          developer(kv).featureGates = [];
          kv.status = { phase: "Deployed", observedKubeVirtVersion: "v1.8.2" };
        }),
      },
      want: [
        /WorkloadEncryptionSEV is not listed .*on by default only from KubeVirt v1.9; this one reports v1.8.2/,
      ],
    },
    {
      name: "QGS not enforced for TDX",
      input: { kv: kubevirt((kv) => delete kv.spec.configuration?.confidentialCompute) },
      want: [/^QGSNotEnforced: .*enforced is not true.*\/var\/run\/tdx-qgs\/qgs.socket/],
    },
    {
      name: "GPU resource not permitted",
      input: { deviceResources: ["nvidia.com/GB100_B200"] },
      want: [/^HostDeviceNotPermitted: .*does not list nvidia.com\/GB100_B200/],
    },
    {
      name: "GPU permitted without an external provider",
      input: {
        kv: kubevirt((kv) => {
          const device = kv.spec.configuration?.permittedHostDevices?.pciHostDevices?.[0];
          if (device !== undefined) delete device.externalResourceProvider;
        }),
      },
      want: [
        /^HostDeviceNotPermitted: .*lists nvidia.com\/GH100_H100_SXM5_80GB without externalResourceProvider: true/,
      ],
    },
    {
      name: "hostDevices (NVSwitches) without the HostDevices gate",
      input: {
        usesHostDevices: true,
        kv: kubevirt((kv) => {
          developer(kv).featureGates = developer(kv).featureGates?.filter((g) => g !== "HostDevices");
        }),
      },
      want: [/^FeatureGateDisabled: .*HostDevices \(Alpha\)/],
    },
    {
      name: "http image without CDI",
      input: { needsCdi: true, dataVolumeApi: false },
      want: [/^CDINotInstalled: http images are imported by CDI/],
    },
    {
      name: "everything wrong at once: every finding, in check order",
      input: {
        kv: kubevirt((kv) => {
          kv.status = { phase: "Deploying" };
          developer(kv).featureGates = [];
          delete kv.spec.configuration?.confidentialCompute;
          delete kv.spec.configuration?.permittedHostDevices;
        }),
      },
      want: [/^KubeVirtNotDeployed/, /^FeatureGateDisabled/, /^QGSNotEnforced/, /^HostDeviceNotPermitted/],
    },
  ];
  for (const c of cases)
    it(`refuses: ${c.name}`, () => {
      const reasons = reasonsOf(c.input);
      expect(reasons, reasons.join("\n")).to.have.length(c.want.length);
      c.want.forEach((pattern, i) => expect(reasons[i]).to.match(pattern));
    });

  it("does not check CDI when it cannot tell, nor QGS for SNP", () => {
    expect(reasonsOf({ needsCdi: true })).to.deep.equal([]);
    const noQgs = kubevirt((kv) => delete kv.spec.configuration?.confidentialCompute);
    expect(reasonsOf({ tee: "snp", deviceResources: [], kv: noQgs })).to.deep.equal([]);
  });

  it("follows KubeVirt's gate precedence: listed beats disabled, Beta SEV on from v1.9 only, TDX never by default", () => {
    const gates = (enabled: string[], disabled: string[], version?: string) =>
      kubevirt((kv) => {
        developer(kv).featureGates = enabled;
        developer(kv).disabledFeatureGates = disabled;
        kv.status = {
          phase: "Deployed",
          ...(version === undefined ? {} : { observedKubeVirtVersion: version }),
        };
      });
    const sev = "WorkloadEncryptionSEV";
    const tdx = "WorkloadEncryptionTDX";
    expect(featureGateEnabled(gates([sev], [sev]), sev)).to.equal(true);
    expect(featureGateEnabled(gates([], [], "v1.9.0"), sev)).to.equal(true);
    expect(featureGateEnabled(gates([], [], "v1.10.1"), sev)).to.equal(true);
    expect(featureGateEnabled(gates([], [], "v2.0.0"), sev)).to.equal(true);
    expect(featureGateEnabled(gates([], [], "v1.8.9"), sev)).to.equal(false);
    expect(featureGateEnabled(gates([], []), sev)).to.equal(false);
    expect(featureGateEnabled(gates([], [], "v1.10.0"), tdx)).to.equal(false);
    expect(featureGateEnabled(gates([tdx], []), tdx)).to.equal(true);
  });

  it("takes the deployed KubeVirt CR, not one being deleted", () => {
    const deleting = kubevirt((kv) => {
      kv.metadata = { ...kv.metadata, name: "old", deletionTimestamp: "2026-01-01T00:00:00Z" };
    });
    const deploying = kubevirt((kv) => {
      kv.metadata = { ...kv.metadata, name: "second" };
      kv.status = { phase: "Deploying" };
    });
    const deployed = kubevirt();
    expect(activeKubeVirt([deleting, deploying, deployed])?.metadata?.name).to.equal("kubevirt");
    expect(activeKubeVirt([deleting, deploying])?.metadata?.name).to.equal("second");
    expect(activeKubeVirt([deleting])).to.equal(undefined);
  });
});

function aNode(labels: Record<string, string>, allocatable: Record<string, string>): V1Node {
  return { metadata: { name: "gpu-1", labels }, status: { allocatable } };
}

const TDX_NODE_LABELS = { "kubevirt.io/schedulable": "true", "kubevirt.io/tdx": "true" };
const SNP_NODE_LABELS = {
  "kubevirt.io/schedulable": "true",
  "kubevirt.io/sev": "true",
  "kubevirt.io/sev-snp": "true",
};

function problems(
  node: V1Node | undefined,
  tee: "tdx" | "snp",
  devices: [string, number][] = [[H100_SXM, 2]],
  kv = kubevirt(),
): string[] {
  return nodeProblems({ nodeName: "gpu-1", node, tee, kubevirt: kv, devices: new Map(devices) });
}

describe("KubeVirt preflight: the chosen Node", () => {
  it("passes a TDX Node with virt-handler's labels, the TDX device and enough GPUs, and the same for SNP", () => {
    expect(
      problems(aNode(TDX_NODE_LABELS, { "devices.kubevirt.io/tdx": "15", [H100_SXM]: "8" }), "tdx"),
    ).to.deep.equal([]);
    expect(
      problems(aNode(SNP_NODE_LABELS, { "devices.kubevirt.io/sev": "110", [H100_SXM]: "2" }), "snp"),
    ).to.deep.equal([]);
  });

  it("says the Node is missing", () => {
    expect(problems(undefined, "tdx")).to.deep.equal(["not found"]);
  });

  it("refuses each missing label, device and GPU shortfall by name", () => {
    const found = problems(aNode({ "kubevirt.io/schedulable": "false" }, { [H100_SXM]: "1" }), "snp");
    expect(found).to.have.length(5);
    expect(found[0]).to.match(/lacks label kubevirt.io\/schedulable=true/);
    expect(found[1]).to.match(/lacks label kubevirt.io\/sev=true/);
    expect(found[2]).to.match(/lacks label kubevirt.io\/sev-snp=true/);
    expect(found[3]).to.match(/no allocatable devices.kubevirt.io\/sev/);
    expect(found[4]).to.equal("has 1 allocatable nvidia.com/GH100_H100_SXM5_80GB, the VM needs 2");
  });

  it("names the QGS socket when a TDX Node has no healthy TDX device (QGS missing with enforcement)", () => {
    const kv = kubevirt((k) => {
      const attestation = k.spec.configuration?.confidentialCompute?.tdx?.attestation;
      if (attestation !== undefined) attestation.qgsSocketPath = "/run/qgs/qgs.sock";
    });
    const found = problems(
      aNode(TDX_NODE_LABELS, { "devices.kubevirt.io/tdx": "0", [H100_SXM]: "8" }),
      "tdx",
      [],
      kv,
    );
    expect(found).to.deep.equal([
      "has no allocatable devices.kubevirt.io/tdx (virt-handler's TDX device: needs the WorkloadEncryptionTDX gate, TDX keys in misc.capacity and, with QGS enforced, the socket /run/qgs/qgs.sock)",
    ]);
  });

  it("holds the Node to KubeVirt's cluster-wide nodeSelectors", () => {
    const kv = kubevirt((k) => (developer(k).nodeSelectors = { "example.com/vm-pool": "cc" }));
    const labels = { ...TDX_NODE_LABELS };
    const found = problems(
      aNode(labels, { "devices.kubevirt.io/tdx": "1", [H100_SXM]: "2" }),
      "tdx",
      undefined,
      kv,
    );
    expect(found).to.deep.equal([
      "has example.com/vm-pool=<unset>, but KubeVirt kubevirt/kubevirt developerConfiguration.nodeSelectors wants cc",
    ]);
  });

  it("attacker on the node: a TEE label without virt-handler's device, or labels of the other TEE, do not pass", () => {
    // The host owner can write any label on their Node; the device count comes from kubelet's device plugins.
    const labelsOnly = problems(
      aNode({ ...TDX_NODE_LABELS, ...SNP_NODE_LABELS }, { [H100_SXM]: "8" }),
      "snp",
    );
    expect(labelsOnly).to.deep.equal([
      "has no allocatable devices.kubevirt.io/sev (virt-handler's /dev/sev device: needs the WorkloadEncryptionSEV gate and /dev/sev)",
    ]);
    const otherTee = problems(
      aNode(TDX_NODE_LABELS, { "devices.kubevirt.io/sev": "1", [H100_SXM]: "8" }),
      "snp",
    );
    expect(otherTee.filter((p) => p.includes("lacks label"))).to.have.length(2);
    // "True" is not "true": virt-controller's nodeSelector wants the exact value.
    const wrongCase = problems(
      aNode(
        { "kubevirt.io/schedulable": "True", "kubevirt.io/tdx": "true" },
        { "devices.kubevirt.io/tdx": "1", [H100_SXM]: "8" },
      ),
      "tdx",
    );
    expect(wrongCase).to.have.length(1);
    // A garbage quantity is no device.
    const garbage = problems(
      aNode(TDX_NODE_LABELS, { "devices.kubevirt.io/tdx": "lots", [H100_SXM]: "8" }),
      "tdx",
    );
    expect(garbage[0]).to.match(/no allocatable devices.kubevirt.io\/tdx/);
  });
});

describe("KubeVirt preflight: cluster-wide checks (trustgate_kubevirt_ready)", () => {
  const byCheck = (api: Parameters<typeof clusterChecks>[0]) =>
    Object.fromEntries(clusterChecks(api).map((c) => [c.check, c.ok]));

  it("all pass for the documented KubeVirt CR", () => {
    expect(byCheck({ state: "synced", kubevirts: [kubevirt()] })).to.deep.equal({
      installed: true,
      "config-valid": true,
      deployed: true,
      "feature-gate-tdx": true,
      "feature-gate-sev": true,
      "tdx-qgs-enforced": true,
      "gpu-host-devices": true,
    });
  });

  it("fails every check, naming the missing CRDs, when KubeVirt is absent", () => {
    const checks = clusterChecks({ state: "absent" });
    expect(checks.every((c) => !c.ok)).to.equal(true);
    expect(checks[0]?.message).to.match(/KubeVirt CRDs not installed/);
  });

  it("reports each misconfiguration on its own check", () => {
    const kv = kubevirt((k) => {
      developer(k).featureGates = ["WorkloadEncryptionSEV"];
      delete k.spec.configuration?.permittedHostDevices;
    });
    expect(byCheck({ state: "synced", kubevirts: [kv] })).to.include({
      installed: true,
      deployed: true,
      "feature-gate-tdx": false,
      "feature-gate-sev": true,
      "gpu-host-devices": false,
    });
    expect(byCheck({ state: "synced", kubevirts: [] })).to.include({ installed: true, deployed: false });
  });
});
