import { expect } from "chai";
import type { V1PciHostDevice } from "./generated/types.ts";
import { gpuResourceDefaults, pciSelector, resolveGpuResource } from "./gpu-resource-names.ts";

const sxm = { pciAddress: "0000:18:00.0", model: "H100-SXM5-80GB", vendorId: "0x10de", deviceId: "0x2330" };
const permitted = (entries: [string, string, boolean?][]): V1PciHostDevice[] =>
  entries.map(([pciVendorSelector, resourceName, external]) => ({
    pciVendorSelector,
    resourceName,
    ...(external === undefined ? {} : { externalResourceProvider: external }),
  }));

describe("GPU resource names", () => {
  it("writes PCI IDs as KubeVirt's vendor:device selector", () => {
    expect(pciSelector("0x10DE", "0x2330")).to.equal("10de:2330");
    expect(pciSelector("10de", "2331")).to.equal("10de:2331");
  });

  const cases: {
    name: string;
    gpu?: Record<string, string | undefined>;
    permitted?: V1PciHostDevice[];
    allocatable?: Record<string, string>;
    overrides?: string[];
    want: string | RegExp;
    source?: string;
  }[] = [
    {
      name: "KubeVirt's permittedHostDevices name for the GPU's vendor:device (selector in upper case)",
      permitted: permitted([
        ["10DE:2331", "nvidia.com/PCIE", true],
        ["10DE:2330", "example.com/h100-sxm", true],
      ]),
      want: "example.com/h100-sxm",
      source: "permittedHostDevices",
    },
    {
      name: "of several entries for the same device, the one the Node advertises",
      permitted: permitted([
        ["10de:2330", "example.com/a", true],
        ["10de:2330", "example.com/b", true],
      ]),
      allocatable: { "example.com/b": "8" },
      want: "example.com/b",
    },
    {
      name: "of several entries none advertised, the one with an external provider",
      permitted: permitted([
        ["10de:2330", "example.com/kubevirt-served"],
        ["10de:2330", "example.com/external", true],
      ]),
      want: "example.com/external",
    },
    {
      name: "without a permitted entry, NVIDIA's default name for the model",
      permitted: permitted([["10de:2331", "nvidia.com/GH100_H100_PCIE", true]]),
      want: "nvidia.com/GH100_H100_SXM5_80GB",
      source: "default",
    },
    {
      name: "an operator's --gpu-resource-name over the built-in default",
      overrides: ["10DE:2330=example.com/sxm"],
      want: "example.com/sxm",
      source: "default",
    },
    {
      name: "the model's IDs when the host report has none",
      gpu: { vendorId: undefined, deviceId: undefined },
      permitted: permitted([["10de:2330", "example.com/h100", true]]),
      want: "example.com/h100",
    },
    {
      name: "the host-reported device ID, not the model name, when they disagree",
      gpu: { deviceId: "0x2331" },
      permitted: permitted([
        ["10de:2330", "example.com/sxm", true],
        ["10de:2331", "example.com/pcie", true],
      ]),
      want: "example.com/pcie",
    },
    {
      name: "nothing for an unknown device",
      gpu: { deviceId: "0x9999" },
      want: /GPU 0000:18:00.0 \(10de:9999\) is in neither KubeVirt's permittedHostDevices nor the default/,
    },
    {
      name: "nothing for an unknown model without IDs",
      gpu: { vendorId: undefined, deviceId: undefined, model: "X100" },
      want: /has no PCI vendor and device ID/,
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const gpu: Record<string, string | undefined> = { ...sxm, ...c.gpu };
      const identity = Object.fromEntries(
        Object.entries(gpu).filter(([, v]) => v !== undefined),
      ) as typeof sxm;
      const resolved = resolveGpuResource(identity, {
        permitted: c.permitted ?? [],
        ...(c.allocatable === undefined ? {} : { allocatable: c.allocatable }),
        defaults: gpuResourceDefaults(c.overrides),
      });
      if (typeof c.want === "string") {
        expect(resolved.resourceName).to.equal(c.want);
        if (c.source !== undefined && resolved.resourceName !== undefined)
          expect(resolved.source).to.equal(c.source);
      } else {
        expect(resolved.resourceName).to.equal(undefined);
        if (resolved.resourceName === undefined) expect(resolved.message).to.match(c.want);
      }
    });

  it("refuses malformed --gpu-resource-name values, naming the flag", () => {
    for (const bad of [
      "10de:2330",
      "10de-2330=nvidia.com/x",
      "10de:2330=no-slash",
      "10de:2330=a/b=c",
      "=x/y",
    ])
      expect(() => gpuResourceDefaults([bad]), bad).to.throw(
        /--gpu-resource-name .*want <vendor>:<device>=<resource>/,
      );
  });
});
