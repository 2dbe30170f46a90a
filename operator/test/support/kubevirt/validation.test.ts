import { expect } from "chai";
import { pruneUnknownFields } from "../../../src/api/structural-prune.ts";
import type { VirtualMachine } from "../../../src/kubevirt/generated/types.ts";
import { aVirtualMachine } from "../builders/virtual-machine.ts";
import { validateVirtualMachine, virtualMachineSchema } from "./validation.ts";

function tdxVirtualMachine(): VirtualMachine {
  return aVirtualMachine(
    { name: "llm-inference", namespace: "default" },
    {
      metadata: { labels: { "trustgate.io/cvm": "llm-inference" } },
      spec: {
        evictionStrategy: "None",
        domain: {
          launchSecurity: { tdx: {} },
          firmware: { bootloader: { efi: { secureBoot: true, persistent: false } } },
          cpu: { cores: 4 },
          memory: { guest: "16Gi" },
          devices: {
            disks: [{ name: "root", disk: { bus: "virtio" } }],
            gpus: [{ name: "gpu0", deviceName: "nvidia.com/GH100_H100_SXM5_80GB" }],
          },
        },
        volumes: [
          {
            name: "root",
            containerDisk: { image: `registry.example.com/cvm@sha256:${"4f".repeat(32)}` },
          },
        ],
      },
    },
  );
}

describe("KubeVirt VirtualMachine validation", () => {
  it("accepts a typed TDX VM with an H100", () => {
    const result = validateVirtualMachine(tdxVirtualMachine());
    expect(result.ok ? [] : result.errors).to.deep.equal([]);
  });

  it("flags a typo'd field that the API server would prune", () => {
    const vm: unknown = JSON.parse(
      JSON.stringify(tdxVirtualMachine()).replace('"launchSecurity"', '"launchSecurty"'),
    );
    const result = validateVirtualMachine(vm);
    expect(result.ok ? [] : result.errors).to.deep.equal([
      {
        path: "spec.template.spec.domain.launchSecurty",
        message: "Unknown field: the API server would drop it",
      },
    ]);
  });

  it("rejects a wrongly typed field", () => {
    const vm = { ...tdxVirtualMachine(), spec: { ...tdxVirtualMachine().spec, runStrategy: 5 } };
    const result = validateVirtualMachine(vm);
    expect(result.ok ? [] : result.errors).to.deep.equal([
      { path: "spec.runStrategy", message: "Invalid value: 5: must be of type string" },
    ]);
  });

  it("checks quantities as int-or-string", () => {
    const vm = tdxVirtualMachine();
    const domain = vm.spec.template.spec?.domain;
    if (domain?.memory === undefined) throw new Error("fixture has no memory");
    domain.memory.guest = 17179869184;
    expect(validateVirtualMachine(vm).ok).to.equal(true);
    (domain.memory as { guest: unknown }).guest = { value: "16Gi" };
    const result = validateVirtualMachine(vm);
    expect(result.ok ? [] : result.errors).to.deep.equal([
      {
        path: "spec.template.spec.domain.memory.guest",
        message: "Invalid value: <object>: must be an integer or a string",
      },
    ]);
  });

  it("keeps fields under preserve-unknown-fields nodes (template metadata, clock)", () => {
    const vm = tdxVirtualMachine();
    const template = vm.spec.template;
    const withExtras = {
      ...vm,
      spec: {
        ...vm.spec,
        template: {
          ...template,
          metadata: { ...template.metadata, anything: true },
          spec: { ...template.spec, domain: { ...template.spec?.domain, clock: { utc: {}, extra: 1 } } },
        },
      },
    };
    expect(pruneUnknownFields(virtualMachineSchema(), withExtras)).to.deep.equal([]);
  });
});
