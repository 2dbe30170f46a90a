import { expect } from "chai";
import type { V1ConfigMap } from "@kubernetes/client-node";
import { jwksFromConfigMap, notModified } from "./jwks.ts";

const KEY = {
  kty: "EC",
  crv: "P-256",
  x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
  y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
  kid: "k1",
};
const configMap = (text?: string): V1ConfigMap => ({
  metadata: { name: "trustgate-jwks" },
  data: text === undefined ? {} : { "jwks.json": text },
});

describe("jwksFromConfigMap", () => {
  it("serves the keys with a stable ETag that changes with them", () => {
    const doc = jwksFromConfigMap(configMap(JSON.stringify({ keys: [KEY] })));
    expect(doc).to.have.property("body", JSON.stringify({ keys: [KEY] }));
    const again = jwksFromConfigMap(configMap(JSON.stringify({ keys: [KEY] })));
    const other = jwksFromConfigMap(configMap(JSON.stringify({ keys: [{ ...KEY, kid: "k2" }] })));
    expect("etag" in doc && "etag" in again && doc.etag === again.etag).to.equal(true);
    expect("etag" in doc && "etag" in other && doc.etag !== other.etag).to.equal(true);
    if ("etag" in doc) expect(doc.etag).to.match(/^"[A-Za-z0-9_-]{27}"$/);
  });

  const bad: [string, V1ConfigMap | undefined, string][] = [
    ["no ConfigMap", undefined, "the JWKS ConfigMap does not exist (yet)"],
    ["no jwks.json", configMap(), "the JWKS ConfigMap has no jwks.json"],
    ["not JSON", configMap("{"), "jwks.json in the JWKS ConfigMap is not JSON"],
    ["no keys", configMap("{}"), 'jwks.json in the JWKS ConfigMap has no "keys" array'],
    ["null", configMap("null"), 'jwks.json in the JWKS ConfigMap has no "keys" array'],
    [
      "a private key",
      configMap(JSON.stringify({ keys: [{ ...KEY, d: "secret" }] })),
      "holds something other than public keys",
    ],
  ];
  for (const [name, cm, error] of bad) {
    it(`refuses ${name}`, () => {
      const result = jwksFromConfigMap(cm);
      expect("error" in result ? result.error : "").to.include(error);
    });
  }
});

describe("notModified", () => {
  const cases: [string | undefined, boolean][] = [
    [undefined, false],
    ['"abc"', true],
    ['W/"abc"', true],
    ['"x", "abc"', true],
    ["*", true],
    ['"abd"', false],
  ];
  for (const [header, want] of cases) {
    it(`${String(header)} -> ${String(want)}`, () => {
      expect(notModified(header, '"abc"')).to.equal(want);
    });
  }
});
