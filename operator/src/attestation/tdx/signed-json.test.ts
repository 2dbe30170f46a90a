import { expect } from "chai";
import { EvidenceError } from "../types.ts";
import { parsePemCertificates } from "../../crypto/pem.ts";
import { splitSignedJson, topLevelMembers } from "./signed-json.ts";
import { INTEL_SGX_ROOT_CA_PEM } from "./intel-trust-anchors.ts";

function code(work: () => unknown): string | undefined {
  try {
    work();
    return undefined;
  } catch (error) {
    return error instanceof EvidenceError ? error.code : "other";
  }
}

describe("splitSignedJson", () => {
  it("cuts the signed member out verbatim, whitespace, escapes and nesting included", () => {
    const member = '{ "id" : "TDX",\n "s": "a\\"}{,", "levels": [ {"x": [1, 2]}, {} ] }';
    const body = ` {"tcbInfo":${member} ,\r\n "signature" : "ab12"} `;
    expect(splitSignedJson(body, "tcbInfo", "t")).to.deep.equal({ text: member, signature: "ab12" });
  });

  it("reads members in any order and keeps primitive values", () => {
    const members = topLevelMembers('{"signature":"00","n":12,"b":true,"enclaveIdentity":{"a":null}}', "t");
    expect([...members]).to.deep.equal([
      ["signature", '"00"'],
      ["n", "12"],
      ["b", "true"],
      ["enclaveIdentity", '{"a":null}'],
    ]);
  });

  it("rejects non-JSON, arrays and bodies without the member or signature as EvidenceMalformed", () => {
    for (const body of [
      "",
      "[1]",
      '{"tcbInfo":{}',
      '{"tcbInfo":{}}',
      '{"signature":"00"}',
      '{"tcbInfo":{},"signature":1}',
    ]) {
      expect(
        code(() => splitSignedJson(body, "tcbInfo", "t")),
        body,
      ).to.equal("EvidenceMalformed");
    }
  });
});

describe("parsePemCertificates", () => {
  const root = INTEL_SGX_ROOT_CA_PEM.trim();

  it("reads LF and CRLF chains, blank lines between blocks allowed", () => {
    expect(parsePemCertificates(`${root}\n\n${root}\n`, "t")).to.have.length(2);
    expect(parsePemCertificates(`${root}\n`.replace(/\n/g, "\r\n"), "t")).to.have.length(1);
  });

  it("rejects text outside blocks, bad base64, non-canonical padding and empty input", () => {
    const lastLine = root.split("\n").at(-2) ?? "";
    const nonCanonical = root.replace(lastLine, lastLine.replace(/I=$/, "J="));
    for (const bad of ["", `junk\n${root}`, root.replace("MIIC", "MI*C"), root.slice(0, -10), nonCanonical]) {
      expect(
        code(() => parsePemCertificates(bad, "t")),
        bad.slice(0, 40),
      ).to.equal("EvidenceMalformed");
    }
  });
});
