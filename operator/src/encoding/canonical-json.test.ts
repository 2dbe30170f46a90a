import { expect } from "chai";
import { canonicalJson } from "./canonical-json.ts";
import { hostReportPayload } from "../host/host-report.ts";

describe("canonicalJson", () => {
  const cases: [string, unknown, string][] = [
    ["sorts object keys at every depth", { b: 1, a: { d: true, c: "x" } }, '{"a":{"c":"x","d":true},"b":1}'],
    ["keeps array order", [3, 1, 2], "[3,1,2]"],
    ["leaves out undefined members", { a: undefined, b: null }, '{"b":null}'],
    ["escapes strings as JSON does", { s: 'q"\n' }, '{"s":"q\\"\\n"}'],
  ];
  for (const [name, input, output] of cases) {
    it(name, () => {
      expect(canonicalJson(input)).to.equal(output);
    });
  }

  it("refuses values JSON cannot carry", () => {
    expect(() => canonicalJson({ n: Number.NaN })).to.throw(TypeError);
    expect(() => canonicalJson({ f: () => 1 })).to.throw(TypeError);
  });
});

describe("hostReportPayload", () => {
  it("signs the node name and the reported fields, not conditions or the report", () => {
    const payload = hostReportPayload("node-a", {
      agentVersion: "0.1.0",
      tee: { type: "tdx", enabled: true },
      conditions: [
        { type: "Validated", status: "True", reason: "Valid", message: "", lastTransitionTime: "x" },
      ],
      report: { jws: "a.b.c", keyId: "k", publicKey: { kty: "EC", crv: "P-256", x: "x", y: "y" } },
    });
    expect(JSON.parse(payload)).to.deep.equal({
      nodeName: "node-a",
      agentVersion: "0.1.0",
      tee: { type: "tdx", enabled: true },
    });
  });
});
