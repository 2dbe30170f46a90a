import { expect } from "chai";
import { exampleKubeVirt } from "../../test/support/kubevirt/installation.ts";
import type { KubeVirt } from "./generated/types.ts";
import { readKubeVirt } from "./read-kubevirt.ts";

interface Configuration {
  developerConfiguration: Record<string, unknown>;
  permittedHostDevices: { pciHostDevices: Record<string, unknown>[] };
  confidentialCompute: { tdx: { attestation: Record<string, unknown> } };
}
/** A KubeVirt CR as JSON of any shape, as a CR under another schema could hold. */
interface Loose {
  spec: { configuration: Configuration | unknown[] };
}
const config = (kv: Loose): Configuration => kv.spec.configuration as Configuration;
const device = (kv: Loose, i: number): Record<string, unknown> => {
  const entry = config(kv).permittedHostDevices.pciHostDevices[i];
  if (entry === undefined) throw new Error(`the example has no device ${String(i)}`);
  return entry;
};

/** The documented CR with `change` applied to its JSON. */
function raw(change: (kv: Loose) => void): KubeVirt {
  const kv = structuredClone(exampleKubeVirt()) as unknown as Loose;
  change(kv);
  return kv as unknown as KubeVirt;
}

describe("readKubeVirt (the KubeVirt CR fields the preflight reads)", () => {
  it("keeps every field of a well-formed CR", () => {
    const { kubevirt, problems } = readKubeVirt(exampleKubeVirt());
    expect(problems).to.deep.equal([]);
    const example = exampleKubeVirt();
    expect(kubevirt.spec.configuration?.developerConfiguration?.featureGates).to.deep.equal(
      example.spec.configuration?.developerConfiguration?.featureGates,
    );
    expect(kubevirt.spec.configuration?.permittedHostDevices).to.deep.equal(
      example.spec.configuration?.permittedHostDevices,
    );
    expect(kubevirt.spec.configuration?.confidentialCompute).to.deep.equal(
      example.spec.configuration?.confidentialCompute,
    );
    expect(kubevirt.status).to.deep.equal(example.status);
  });

  const cases: { name: string; change: (kv: Loose) => void; problem: string }[] = [
    {
      name: "featureGates a string",
      change: (kv) => (config(kv).developerConfiguration.featureGates = "WorkloadEncryptionTDX"),
      problem: "spec.configuration.developerConfiguration.featureGates is not a list of strings",
    },
    {
      name: "a device without resourceName",
      change: (kv) => delete device(kv, 1)["resourceName"],
      problem:
        "spec.configuration.permittedHostDevices.pciHostDevices[1] needs a pciVendorSelector and a resourceName",
    },
    {
      name: "externalResourceProvider a string",
      change: (kv) => (device(kv, 0)["externalResourceProvider"] = "true"),
      problem:
        "spec.configuration.permittedHostDevices.pciHostDevices[0].externalResourceProvider is not a boolean",
    },
    {
      name: "enforced a string",
      change: (kv) => (config(kv).confidentialCompute.tdx.attestation.enforced = "yes"),
      problem: "tdx.attestation.enforced is not a boolean",
    },
    {
      name: "configuration a list",
      change: (kv) => (kv.spec.configuration = []),
      problem: "spec.configuration is not an object",
    },
    {
      name: "nodeSelectors with a number",
      change: (kv) => (config(kv).developerConfiguration.nodeSelectors = { pool: 3 }),
      problem: "spec.configuration.developerConfiguration.nodeSelectors has a value that is not a string",
    },
  ];
  for (const c of cases)
    it(`names and leaves out a malformed field: ${c.name}`, () => {
      const { kubevirt, problems } = readKubeVirt(raw(c.change));
      expect(problems).to.deep.equal([c.problem]);
      expect(JSON.stringify(kubevirt)).not.to.match(/"yes"|"true"|:3\b/);
    });

  it("keeps the well-formed devices next to a malformed one", () => {
    const { kubevirt } = readKubeVirt(raw((kv) => delete device(kv, 1)["resourceName"]));
    expect(
      kubevirt.spec.configuration?.permittedHostDevices?.pciHostDevices?.map((d) => d.pciVendorSelector),
    ).to.deep.equal(["10DE:2330", "10DE:2321", "10DE:2335", "10DE:22A3"]);
  });
});
