import { expect } from "chai";
import type { ConfidentialVM } from "../../operator/src/api/v1alpha1/generated/types.ts";
import { checkRolloutInvariants, invariantFailures, type OwnedObject } from "./rollout-invariants.ts";

function cvm(
  name: string,
  options: { attested?: boolean; node?: string; gpus?: (string | undefined)[]; vmName?: string } = {},
): ConfidentialVM {
  const made: ConfidentialVM = {
    apiVersion: "trustgate.io/v1alpha1",
    kind: "ConfidentialVM",
    metadata: { name, namespace: "ns", uid: `uid-${name}` },
    spec: { tee: "snp", policyRef: "p", image: { containerDisk: "img" } },
    status: {
      ...(options.node === undefined ? {} : { nodeName: options.node }),
      ...(options.vmName === undefined ? {} : { vmName: options.vmName }),
      gpus: (options.gpus ?? []).map((pciAddress) => ({
        model: "H100",
        ...(pciAddress === undefined ? {} : { pciAddress }),
      })),
      conditions: [
        {
          type: "Attested",
          status: options.attested === false ? "False" : "True",
          reason: "r",
          message: "",
          lastTransitionTime: "2026-01-01T00:00:00Z",
        },
      ],
    },
  };
  return made;
}

function owned(kind: string, name: string, owner: string, uid = `uid-${owner}`, label = owner): OwnedObject {
  return {
    kind,
    metadata: {
      name,
      labels: { "trustgate.io/confidentialvm": label },
      ownerReferences: [{ kind: "ConfidentialVM", name: owner, uid }],
    },
  };
}

const healthy = {
  cvms: [
    cvm("a", { node: "h1", gpus: ["g0", "g1"], vmName: "a" }),
    cvm("b", { node: "h2", gpus: ["g0", "g1"] }),
  ],
  virtualMachines: [owned("VirtualMachine", "a", "a"), owned("VirtualMachine", "b", "b")],
  otherObjects: [
    owned("Secret", "a-guest-config", "a"),
    owned("ServiceAccount", "a-guest", "a"),
    owned("Role", "a-guest", "a"),
    owned("RoleBinding", "a-guest", "a"),
    // Not the controller's: no owner, no label.
    { kind: "Secret", metadata: { name: "user-secret" } },
  ],
  gpusPerHost: 2,
};

describe("checkRolloutInvariants", () => {
  const cases: {
    name: string;
    change: (input: typeof healthy) => typeof healthy;
    expected: Partial<ReturnType<typeof checkRolloutInvariants>>;
  }[] = [
    { name: "a clean rollout", change: (i) => i, expected: {} },
    {
      name: "a CVM not Attested",
      change: (i) => ({ ...i, cvms: [i.cvms[0] as ConfidentialVM, cvm("b", { attested: false })] }),
      expected: { notConverged: ["b"] },
    },
    {
      name: "two VirtualMachines for one CVM",
      change: (i) => ({ ...i, virtualMachines: [...i.virtualMachines, owned("VirtualMachine", "b-2", "b")] }),
      expected: { duplicateVms: ["b: b, b-2"] },
    },
    {
      name: "a Secret whose CVM is gone",
      change: (i) => ({ ...i, otherObjects: [...i.otherObjects, owned("Secret", "c-guest-config", "c")] }),
      expected: { orphans: ["Secret/c-guest-config: its ConfidentialVM c is gone"] },
    },
    {
      name: "a ServiceAccount of an earlier CVM of the same name",
      change: (i) => ({
        ...i,
        otherObjects: [...i.otherObjects, owned("ServiceAccount", "b-guest", "b", "uid-old")],
      }),
      expected: { orphans: ["ServiceAccount/b-guest: owned by an earlier ConfidentialVM b (uid uid-old)"] },
    },
    {
      name: "a labelled RoleBinding nobody owns",
      change: (i) => ({
        ...i,
        otherObjects: [
          ...i.otherObjects,
          { kind: "RoleBinding", metadata: { name: "x", labels: { "trustgate.io/confidentialvm": "a" } } },
        ],
      }),
      expected: { orphans: ["RoleBinding/x: labelled for a but not owned by it"] },
    },
    {
      name: "a VirtualMachine its CVM does not run (also a duplicate)",
      change: (i) => ({
        ...i,
        virtualMachines: [...i.virtualMachines, owned("VirtualMachine", "a-old", "a")],
      }),
      expected: {
        duplicateVms: ["a: a, a-old"],
        orphans: ["VirtualMachine/a-old: a runs VirtualMachine a, not this one"],
      },
    },
    {
      name: "one host GPU held by two CVMs",
      change: (i) => ({ ...i, cvms: [i.cvms[0] as ConfidentialVM, cvm("b", { node: "h1", gpus: ["g1"] })] }),
      expected: { doubleAssignedGpus: ["h1/g1: a, b", "h1: 3 GPUs placed > 2 on the host"] },
    },
    {
      name: "more GPUs placed on a host than it has, before their addresses are known",
      change: (i) => ({
        ...i,
        cvms: [
          cvm("a", { node: "h1", gpus: [undefined, undefined] }),
          cvm("b", { node: "h1", gpus: [undefined] }),
        ],
      }),
      expected: { doubleAssignedGpus: ["h1: 3 GPUs placed > 2 on the host"] },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const result = checkRolloutInvariants(c.change(healthy));
      expect(result).to.deep.equal({
        notConverged: [],
        duplicateVms: [],
        orphans: [],
        doubleAssignedGpus: [],
        ...c.expected,
      });
      expect(invariantFailures(result)).to.have.length(Object.keys(c.expected).length);
    });
  }

  it("names the count and the first items of each broken invariant", () => {
    const cvms = Array.from({ length: 7 }, (_, i) => cvm(`c${String(i)}`, { attested: false }));
    const lines = invariantFailures(
      checkRolloutInvariants({ ...healthy, cvms, virtualMachines: [], otherObjects: [] }),
    );
    expect(lines).to.deep.equal(["7 CVMs not Attested: c0; c1; c2; c3; c4; ..."]);
  });
});
