import { expect } from "chai";
import { planNodeLabels } from "./node-labels.ts";

const desired = { "trustgate.io/validated": "true", "trustgate.io/tee": "tdx" };

describe("planNodeLabels", () => {
  it("adds labels and records them as owned", () => {
    expect(planNodeLabels({ labels: { "kubernetes.io/hostname": "n" } }, desired)).to.deep.equal({
      metadata: {
        labels: desired,
        annotations: { "trustgate.io/owned-labels": "trustgate.io/tee,trustgate.io/validated" },
      },
    });
  });

  it("changes nothing when the Node already matches", () => {
    const node = {
      labels: { ...desired },
      annotations: { "trustgate.io/owned-labels": "trustgate.io/tee,trustgate.io/validated" },
    };
    expect(planNodeLabels(node, desired)).to.equal(undefined);
  });

  it("removes only owned labels that are no longer desired, never someone else's", () => {
    const node = {
      labels: { ...desired, "trustgate.io/gpu-cc": "on", "trustgate.io/custom": "admin-set" },
      annotations: {
        "trustgate.io/owned-labels": "trustgate.io/gpu-cc,trustgate.io/tee,trustgate.io/validated",
      },
    };
    expect(planNodeLabels(node, desired)?.metadata.labels).to.deep.equal({ "trustgate.io/gpu-cc": null });
  });

  it("removes every owned label and the annotation when nothing is desired (host deleted)", () => {
    const node = {
      labels: { ...desired },
      annotations: { "trustgate.io/owned-labels": "trustgate.io/tee,trustgate.io/validated" },
    };
    expect(planNodeLabels(node, {})).to.deep.equal({
      metadata: {
        labels: { "trustgate.io/validated": null, "trustgate.io/tee": null },
        annotations: { "trustgate.io/owned-labels": null },
      },
    });
  });
});
