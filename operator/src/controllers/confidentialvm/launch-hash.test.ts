import { expect } from "chai";
import type { ConfidentialVM } from "../../api/v1alpha1/generated/types.ts";
import { CONFIDENTIAL_VM_SCHEMA } from "../../api/v1alpha1/generated/schemas.ts";
import type { JSONSchemaProps } from "../../api/json-schema.ts";
import type { VmPlacement } from "../../kubevirt/virtual-machine.ts";
import { aConfidentialVM, SAMPLE_DIGEST } from "../../../test/support/builders/confidential-vm.ts";
import { createHash } from "node:crypto";
import { canonicalJson } from "../../encoding/canonical-json.ts";
import { launchedAsWanted, launchedWithGpuTags, legacySpecHash, renderLaunch } from "./launch-hash.ts";

const placement: VmPlacement = {
  nodeName: "gpu-node-1",
  gpus: [{ pciAddress: "0000:19:00.0", model: "H100-SXM5-80GB" }],
};
const httpImage = { http: { url: "https://images.example.com/cvm.qcow2", sha256: "ab".repeat(32) } };

type Change = (cvm: ConfidentialVM, at: VmPlacement) => [ConfidentialVM, VmPlacement];
const spec =
  (patch: Partial<ConfidentialVM["spec"]>): Change =>
  (cvm, at) => [{ ...cvm, spec: { ...cvm.spec, ...patch } }, at];

/** Every spec field, by what a change of it does to the rendered launch (checked against the CRD below). */
const RELAUNCHES: Record<string, Change> = {
  tee: spec({ tee: "snp" }),
  "image.containerDisk": spec({ image: { containerDisk: `registry.example.com/other@${SAMPLE_DIGEST}` } }),
  "image.http.url": spec({
    image: { http: { ...httpImage.http, url: "https://images.example.com/v2.qcow2" } },
  }),
  "image.http.sha256": spec({ image: { http: { ...httpImage.http, sha256: "cd".repeat(32) } } }),
  "image.http.diskSize": spec({ image: { http: { ...httpImage.http, diskSize: "128Gi" } } }),
  "resources.cpu": spec({ resources: { cpu: 16, memory: "64Gi" } }),
  "resources.memory": spec({ resources: { cpu: 8, memory: "128Gi" } }),
  "gpus.count": (cvm, at) => [
    { ...cvm, spec: { ...cvm.spec, gpus: { count: 2 } } },
    { ...at, gpus: [...at.gpus, { pciAddress: "0000:2a:00.0", model: "H100-SXM5-80GB" }] },
  ],
  // CC mode to a PPCIe board: the board's placement renders all its GPUs and its NVSwitches as host devices.
  "gpus.mode": (cvm, at) => [
    { ...cvm, spec: { ...cvm.spec, gpus: { mode: "ppcie" } } },
    {
      ...at,
      gpus: Array.from({ length: 8 }, (_, i) => ({
        pciAddress: `0000:${(0x19 + i).toString(16)}:00.0`,
        model: "H100-SXM5-80GB",
      })),
      nvswitches: ["05", "06", "07", "08"].map((bus) => ({ pciAddress: `0000:${bus}:00.0` })),
    },
  ],
  nodeSelector: spec({ nodeSelector: { zone: "b" } }),
  runStrategy: spec({ runStrategy: "Halted" }),
};
const KEEPS: Record<string, Change> = {
  policyRef: spec({ policyRef: "other" }),
  secrets: spec({ secrets: [{ name: "model-key" }] }),
  // A new model needs a new placement, which relaunches (placementFitsSpec); the model itself is not rendered.
  "gpus.model": spec({ gpus: { count: 1, model: "H100-SXM5-80GB" } }),
};

function leafPaths(schema: JSONSchemaProps, prefix = ""): string[] {
  const properties = schema.properties;
  if (schema.type !== "object" || properties === undefined) return [prefix];
  return Object.entries(properties).flatMap(([name, child]) =>
    leafPaths(child, prefix === "" ? name : `${prefix}.${name}`),
  );
}

describe("the relaunch hash of a ConfidentialVM's rendered VirtualMachine", () => {
  const base = (path: string) =>
    aConfidentialVM({ gpus: { count: 1 }, ...(path.startsWith("image.http") ? { image: httpImage } : {}) });

  it("classifies every spec field of the CRD as relaunching or not", () => {
    const specSchema = CONFIDENTIAL_VM_SCHEMA.properties?.["spec"] ?? {};
    expect(leafPaths(specSchema).sort()).to.deep.equal(
      [...Object.keys(RELAUNCHES), ...Object.keys(KEEPS)].sort(),
    );
  });

  for (const [path, change] of Object.entries(RELAUNCHES)) {
    it(`changes when spec.${path} changes, because the rendering reads it`, () => {
      const [cvm, at] = change(base(path), placement);
      expect(renderLaunch(cvm, at).hash).to.not.equal(renderLaunch(base(path), placement).hash);
    });
  }
  for (const [path, change] of Object.entries(KEEPS)) {
    it(`stays when spec.${path} changes, because the rendering does not read it`, () => {
      const [cvm, at] = change(base(path), placement);
      expect(renderLaunch(cvm, at).hash).to.equal(renderLaunch(base(path), placement).hash);
    });
  }

  it("changes when the placement moves to another node", () => {
    const cvm = base("");
    expect(renderLaunch(cvm, { ...placement, nodeName: "gpu-node-2" }).hash).to.not.equal(
      renderLaunch(cvm, placement).hash,
    );
  });

  it("is the annotation on the rendered VirtualMachine", () => {
    const launch = renderLaunch(base(""), placement);
    expect(launch.vm.metadata?.annotations?.["trustgate.io/launch-hash"]).to.equal(launch.hash);
  });
});

describe("launchedAsWanted", () => {
  const cvm = aConfidentialVM({ gpus: { count: 1 } });
  const { vm, hash } = renderLaunch(cvm, placement);
  const wanted = { hash, legacyHash: () => legacySpecHash(cvm, placement) };
  const withAnnotations = (annotations: Record<string, string>) => ({
    ...vm,
    metadata: { ...vm.metadata, annotations },
  });

  it("accepts a VM launched with the wanted rendered hash", () => {
    expect(launchedAsWanted(vm, wanted)).to.equal(true);
  });
  it("refuses a VM launched with another rendered hash, even when its legacy hash matches", () => {
    const annotations = {
      "trustgate.io/launch-hash": "0".repeat(32),
      "trustgate.io/spec-hash": wanted.legacyHash(),
    };
    expect(launchedAsWanted(withAnnotations(annotations), wanted)).to.equal(false);
  });
  it("keeps a VM of an older operator whose legacy spec hash still matches (no relaunch on upgrade)", () => {
    expect(
      launchedAsWanted(withAnnotations({ "trustgate.io/spec-hash": wanted.legacyHash() }), wanted),
    ).to.equal(true);
  });
  it("relaunches a VM of an older operator whose spec changed since", () => {
    expect(launchedAsWanted(withAnnotations({ "trustgate.io/spec-hash": "stale" }), wanted)).to.equal(false);
  });
  it("relaunches a VM without any hash annotation", () => {
    expect(launchedAsWanted(withAnnotations({}), wanted)).to.equal(false);
  });
});

describe("launchedWithGpuTags (VMs of operators that rendered GPU tags)", () => {
  const cvm = aConfidentialVM({ gpus: { count: 1 } });
  /** What an older operator rendered: the same VM with each GPU tagged with its planned host PCI address. */
  function taggedVm(tag: string, changeSpec = false) {
    const { vm } = renderLaunch(
      changeSpec ? aConfidentialVM({ gpus: { count: 1 }, resources: { cpu: 9 } }) : cvm,
      placement,
    );
    const devices = vm.spec.template.spec?.domain.devices;
    if (devices?.gpus !== undefined) devices.gpus = devices.gpus.map((g) => ({ ...g, tag }));
    const hash = createHash("sha256")
      .update(canonicalJson({ vm: vm.spec, dataVolume: undefined }))
      .digest("hex")
      .slice(0, 32);
    vm.metadata = { ...vm.metadata, annotations: { "trustgate.io/launch-hash": hash } };
    return vm;
  }

  it("keeps a VM that differs only by its GPU tags (no relaunch on upgrade)", () => {
    expect(
      launchedAsWanted(taggedVm("0000:19:00.0"), {
        hash: renderLaunch(cvm, placement).hash,
        legacyHash: () => "",
      }),
    ).to.equal(false);
    expect(launchedWithGpuTags(cvm, placement, taggedVm("0000:19:00.0"))).to.equal(true);
  });
  it("relaunches a tagged VM whose spec changed otherwise, and never matches an untagged one", () => {
    expect(launchedWithGpuTags(cvm, placement, taggedVm("0000:19:00.0", true))).to.equal(false);
    expect(launchedWithGpuTags(cvm, placement, renderLaunch(cvm, placement).vm)).to.equal(false);
  });
});
