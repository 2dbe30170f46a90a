import { expect } from "chai";
import { ANNOTATION_OWNED_LABELS, FINALIZER, LABEL_CONFIDENTIAL_VM } from "../api/v1alpha1/labels.ts";
import { type CvmFacts, describeStep, type Inventory, planUninstall, type VmFacts } from "./plan.ts";

const cvm = (name: string, extra: Partial<CvmFacts> = {}): CvmFacts => ({
  namespace: "team-a",
  name,
  uid: `uid-${name}`,
  finalizers: [FINALIZER],
  deleting: false,
  ...extra,
});
const vm = (name: string, extra: Partial<VmFacts> = {}): VmFacts => ({
  namespace: "team-a",
  name,
  labels: { [LABEL_CONFIDENTIAL_VM]: name },
  ownerUids: [`uid-${name}`],
  deleting: false,
  ...extra,
});
const empty: Inventory = { cvms: [], vms: [], nodes: [] };

describe("planUninstall: what trustgate uninstall does, from what is in the cluster", function () {
  const cases: { name: string; inventory: Inventory; mode: "release" | "delete"; want: string[] }[] = [
    { name: "an empty cluster: nothing", inventory: empty, mode: "release", want: [] },
    {
      name: "release: a running CVM only loses the finalizer; its VM keeps running",
      inventory: { ...empty, cvms: [cvm("llm")], vms: [vm("llm")] },
      mode: "release",
      want: [`remove finalizer ${FINALIZER} from ConfidentialVM team-a/llm`],
    },
    {
      name: "release: a CVM being deleted loses its VM, then the finalizer",
      inventory: { ...empty, cvms: [cvm("gone", { deleting: true })], vms: [vm("gone")] },
      mode: "release",
      want: [
        "delete VirtualMachine team-a/gone (owned by ConfidentialVM team-a/gone)",
        `remove finalizer ${FINALIZER} from ConfidentialVM team-a/gone`,
      ],
    },
    {
      name: "delete: every CVM, its VM, then its finalizer; other finalizers stay the owners' business",
      inventory: {
        ...empty,
        cvms: [cvm("b"), cvm("a", { finalizers: ["example.com/keep"] })],
        vms: [vm("b")],
      },
      mode: "delete",
      want: [
        "delete ConfidentialVM team-a/a",
        "delete ConfidentialVM team-a/b",
        "delete VirtualMachine team-a/b (owned by ConfidentialVM team-a/b)",
        `remove finalizer ${FINALIZER} from ConfidentialVM team-a/b`,
      ],
    },
    {
      name: "a VM of the same name that another CVM (or nobody) owns is never deleted",
      inventory: {
        ...empty,
        cvms: [cvm("x", { deleting: true }), cvm("y", { deleting: true })],
        vms: [vm("x", { ownerUids: ["someone-else"] }), vm("y", { labels: {} })],
      },
      mode: "delete",
      want: [
        `remove finalizer ${FINALIZER} from ConfidentialVM team-a/x`,
        `remove finalizer ${FINALIZER} from ConfidentialVM team-a/y`,
      ],
    },
    {
      name: "a VM already being deleted is not deleted again",
      inventory: { ...empty, cvms: [cvm("z", { deleting: true })], vms: [vm("z", { deleting: true })] },
      mode: "release",
      want: [`remove finalizer ${FINALIZER} from ConfidentialVM team-a/z`],
    },
    {
      name: "Nodes lose every trustgate.io/ label and the owned-labels annotation, nothing else",
      inventory: {
        ...empty,
        nodes: [
          {
            name: "gpu-1",
            labels: {
              "trustgate.io/validated": "true",
              "trustgate.io/tee": "tdx",
              "kubevirt.io/schedulable": "true",
              "nottrustgate.io/x": "1",
            },
            annotations: { [ANNOTATION_OWNED_LABELS]: "trustgate.io/validated", "other/a": "b" },
          },
          { name: "plain", labels: { "kubernetes.io/os": "linux" }, annotations: {} },
        ],
      },
      mode: "release",
      want: [
        `remove trustgate.io/tee, trustgate.io/validated, annotation ${ANNOTATION_OWNED_LABELS} from Node gpu-1`,
      ],
    },
  ];
  for (const c of cases) {
    it(c.name, function () {
      expect(planUninstall(c.inventory, { mode: c.mode }).map(describeStep)).to.deep.equal(c.want);
    });
  }

  it("stops the controller before anything else, so it cannot put labels or finalizers back", function () {
    const steps = planUninstall(
      {
        ...empty,
        cvms: [cvm("llm")],
        nodes: [{ name: "n", labels: { "trustgate.io/tee": "snp" }, annotations: {} }],
      },
      { mode: "release", controller: { namespace: "trustgate-system", name: "trustgate-controller" } },
    );
    expect(steps.map((s) => s.kind)).to.deep.equal(["stop-controller", "remove-finalizer", "unlabel-node"]);
  });

  it("keeps the finalizer list it saw, so the removal can refuse to act on a list that changed since", function () {
    const [step] = planUninstall(
      { ...empty, cvms: [cvm("a", { finalizers: ["x/y", FINALIZER] })] },
      { mode: "release" },
    );
    expect(step).to.deep.equal({
      kind: "remove-finalizer",
      namespace: "team-a",
      name: "a",
      finalizers: ["x/y", FINALIZER],
    });
  });
});
