import { expect } from "chai";
import type { V1Node } from "@kubernetes/client-node";
import { placeInstance } from "./placement.ts";

function aNode(name: string, labels: Record<string, string> = {}, cordoned = false): V1Node {
  return { metadata: { name, labels }, spec: { unschedulable: cordoned } };
}

const selector = { "kubernetes.io/hostname": "gpu-1", "trustgate.io/validated": "true" };

describe("placeInstance", () => {
  it("takes the nodeSelector's hostname on trust when nodes are not matched", () => {
    expect(placeInstance({ domain: { devices: {} }, nodeSelector: selector })).to.deep.equal({
      nodeName: "gpu-1",
    });
  });

  it("cannot place a VMI whose nodeSelector names no host", () => {
    expect(placeInstance({ domain: { devices: {} }, nodeSelector: {} })).to.deep.equal({
      unschedulable: "the nodeSelector has no kubernetes.io/hostname",
    });
  });

  const cases = [
    {
      name: "a node with every selector label (the hostname label defaults to the node name)",
      nodes: [aNode("gpu-0"), aNode("gpu-1", { "trustgate.io/validated": "true" })],
      placement: { nodeName: "gpu-1" },
    },
    {
      name: "no node when the named node lacks a selector label",
      nodes: [aNode("gpu-1", { "trustgate.io/validated": "false" })],
      placement: {
        unschedulable: `0/1 nodes are available: none is schedulable and matches the nodeSelector ${JSON.stringify(selector)}`,
      },
    },
    {
      name: "no node when the named node is cordoned",
      nodes: [aNode("gpu-1", { "trustgate.io/validated": "true" }, true)],
      placement: {
        unschedulable: `0/1 nodes are available: none is schedulable and matches the nodeSelector ${JSON.stringify(selector)}`,
      },
    },
    {
      name: "no node when the named node does not exist",
      nodes: [],
      placement: {
        unschedulable: `0/0 nodes are available: none is schedulable and matches the nodeSelector ${JSON.stringify(selector)}`,
      },
    },
  ];
  for (const c of cases) {
    it(`with matched nodes, picks ${c.name}`, () => {
      expect(placeInstance({ domain: { devices: {} }, nodeSelector: selector }, c.nodes)).to.deep.equal(
        c.placement,
      );
    });
  }

  it("picks the first fitting node by name when the selector allows several", () => {
    const nodes = [aNode("b", { pool: "gpu" }), aNode("a", { pool: "gpu" }), aNode("c")];
    expect(placeInstance({ domain: { devices: {} }, nodeSelector: { pool: "gpu" } }, nodes)).to.deep.equal({
      nodeName: "a",
    });
  });
});
