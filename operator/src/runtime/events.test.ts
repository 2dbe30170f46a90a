import { expect } from "chai";
import { involvedObject } from "./events.ts";

describe("involvedObject", function () {
  const cases: [string, Parameters<typeof involvedObject>[0], ReturnType<typeof involvedObject>][] = [
    [
      "a namespaced object with a uid",
      {
        apiVersion: "trustgate.io/v1alpha1",
        kind: "ConfidentialVM",
        metadata: { name: "llm", namespace: "ml", uid: "u1" },
      },
      {
        apiVersion: "trustgate.io/v1alpha1",
        kind: "ConfidentialVM",
        name: "llm",
        namespace: "ml",
        uid: "u1",
      },
    ],
    [
      "a cluster-scoped object: no namespace key at all",
      { apiVersion: "trustgate.io/v1alpha1", kind: "ConfidentialHost", metadata: { name: "gpu-1" } },
      { apiVersion: "trustgate.io/v1alpha1", kind: "ConfidentialHost", name: "gpu-1" },
    ],
  ];
  for (const [name, obj, want] of cases) {
    it(name, function () {
      expect(involvedObject(obj)).to.deep.equal(want);
    });
  }
});
