import { expect } from "chai";
import { aConfidentialVM } from "../../test/support/builders/confidential-vm.ts";
import { buildRootDataVolume } from "./data-volume.ts";
import { VmBuildError } from "./virtual-machine.ts";

describe("buildRootDataVolume", () => {
  it("imports an http image with CDI checking its sha256, owned by the ConfidentialVM", () => {
    const cvm = aConfidentialVM({
      image: {
        http: { url: "https://images.example.com/cvm.qcow2", sha256: "0f".repeat(32), diskSize: "80Gi" },
      },
    });
    const dv = buildRootDataVolume(cvm);
    expect(dv.metadata.name).to.equal("llm-inference-root");
    expect(dv.spec.source.http).to.deep.equal({
      url: "https://images.example.com/cvm.qcow2",
      checksum: `sha256:${"0f".repeat(32)}`,
    });
    expect(dv.spec.storage.resources.requests.storage).to.equal("80Gi");
    expect(dv.metadata.ownerReferences[0]).to.include({
      kind: "ConfidentialVM",
      name: "llm-inference",
      controller: true,
    });
  });

  it("refuses a containerDisk image", () => {
    expect(() => buildRootDataVolume(aConfidentialVM())).to.throw(VmBuildError, "no http source");
  });
});
