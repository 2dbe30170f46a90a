import { expect } from "chai";
import { JsonLines } from "./json-lines.ts";

describe("JsonLines (watch stream framing)", () => {
  it("parses objects split across chunks and several per chunk, skipping blank lines", () => {
    const lines = new JsonLines(1024);
    expect(lines.push(Buffer.from('{"type":"ADD'))).to.deep.equal([]);
    expect(lines.push(Buffer.from('ED"}\n\n{"a":1}\n{"b"'))).to.deep.equal([{ type: "ADDED" }, { a: 1 }]);
    expect(lines.push(Buffer.from(":2}\n"))).to.deep.equal([{ b: 2 }]);
  });

  it("refuses a line longer than its limit", () => {
    const lines = new JsonLines(8);
    lines.push(Buffer.from("12345"));
    expect(() => lines.push(Buffer.from("67890"))).to.throw("longer than 8 bytes");
  });
});
