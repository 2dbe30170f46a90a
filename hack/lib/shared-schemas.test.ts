import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { expect } from "chai";
import { renderSchemaConstants } from "./shared-schemas.ts";

const condition = {
  type: "object",
  required: ["type", "status"],
  properties: {
    type: { type: "string", maxLength: 316 },
    status: { type: "string", enum: ["True", "False"] },
  },
};
const conditions = { type: "array", maxItems: 16, items: condition };
const hexDigest = { type: "string", maxLength: 96, pattern: "^[0-9a-f]{96}$", description: "a digest" };

/** The module the source makes, loaded from a temporary file. */
async function load(source: string): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), "trustgate-shared-schemas-"));
  try {
    const file = join(dir, "schemas.ts");
    writeFileSync(file, `type T = unknown;\n${source}`);
    return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("renderSchemaConstants", () => {
  const constants = [
    {
      name: "A_SCHEMA",
      origin: "A",
      doc: "A.",
      schema: { properties: { status: { properties: { conditions } } } },
    },
    {
      name: "B_SCHEMA",
      origin: "B",
      doc: "B.",
      schema: {
        properties: {
          status: { properties: { conditions, phase: { type: "string" } } },
          spec: { properties: { mrTd: { items: hexDigest }, rtmr0: { items: hexDigest, maxItems: 4 } } },
        },
      },
    },
  ];
  const source = renderSchemaConstants(constants, "T");

  it("writes each recurring sub-schema once, named after the path end its places share", () => {
    expect(source.match(/maxItems": 16/g)).to.have.length(1);
    expect(source).to.include("const conditionsSchema: T = ");
    expect(source.match(/"conditions": conditionsSchema/g)).to.have.length(2);
  });

  it("names a sub-schema whose places share no path end after its first place", () => {
    expect(source).to.include("const bSpecMrTdItemSchema: T = ");
    expect(source).to.include('"rtmr0": {"items": bSpecMrTdItemSchema, "maxItems": 4}');
    expect(source).to.include("Shared by B spec.mrTd[], B spec.rtmr0[].");
  });

  it("does not share what stands only inside a shared sub-schema, nor short sub-schemas", () => {
    expect(source).not.to.include("conditionsItemSchema");
    expect(source).to.include('"maxLength": 316');
    expect(source.match(/^const /gm)).to.have.length(2);
  });

  it("declares the shared constants first, and the exported ones equal their schemas", async () => {
    expect(source.indexOf("const conditionsSchema")).to.be.lessThan(source.indexOf("export const A_SCHEMA"));
    const loaded = await load(source);
    expect(loaded.A_SCHEMA).to.deep.equal(constants[0]?.schema);
    expect(loaded.B_SCHEMA).to.deep.equal(constants[1]?.schema);
  });
});
