import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "chai";
import { generateFiles } from "./lib/generated-files.ts";
import { definitionTypeName, reachableDefinitions, KUBEVIRT_ROOTS } from "./lib/kubevirt-types.ts";
import { KUBEVIRT_PIN, readPinnedFile } from "./lib/kubevirt-pin.ts";
import { emitDeclarations } from "./lib/schema-to-ts.ts";
import type { NamedSchema, SchemaNode } from "./lib/schema-to-ts.ts";
import { screamingSnakeCase, singular } from "./lib/ts-syntax.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

/** The emitted declarations for one root schema named `T`. */
function emit(schema: SchemaNode, refName?: (ref: string) => string): string {
  return emitDeclarations([{ name: "T", schema }], refName === undefined ? {} : { refName });
}

describe("gen-types", () => {
  it("committed generated files are up to date (run make gen when this fails)", async () => {
    const files = await generateFiles(root);
    expect(files.map((file) => file.path)).to.have.length(4);
    for (const { path, content } of files) {
      expect(readFileSync(join(root, path), "utf8"), `${path} is stale; run make gen`).to.equal(content);
    }
  });

  it("reads only the pinned KubeVirt inputs", () => {
    for (const file of Object.keys(KUBEVIRT_PIN.files) as Array<keyof typeof KUBEVIRT_PIN.files>) {
      expect(() => readPinnedFile(root, file)).not.to.throw();
    }
  });
});

describe("schema-to-ts emitter", () => {
  const cases: Array<{ name: string; schema: SchemaNode; expected: string }> = [
    {
      name: "required properties are non-optional, others optional",
      schema: {
        type: "object",
        required: ["a"],
        properties: { a: { type: "string" }, b: { type: "integer" } },
      },
      expected: "export interface T {\n  a: string;\n  b?: number;\n}\n",
    },
    {
      name: "enums become string-literal unions",
      schema: { type: "object", properties: { tee: { type: "string", enum: ["tdx", "snp"] } } },
      expected: 'export interface T {\n  tee?: "tdx" | "snp";\n}\n',
    },
    {
      name: "int-or-string",
      schema: { type: "object", properties: { memory: { "x-kubernetes-int-or-string": true } } },
      expected: "export interface T {\n  memory?: number | string;\n}\n",
    },
    {
      name: "additionalProperties maps, preserved and empty objects",
      schema: {
        type: "object",
        properties: {
          labels: { type: "object", additionalProperties: { type: "string" } },
          raw: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
          marker: { type: "object" },
        },
      },
      expected:
        "export interface T {\n  labels?: Record<string, string>;\n  raw?: Record<string, unknown>;\n" +
        "  marker?: Record<string, never>;\n}\n",
    },
    {
      name: "arrays, nullable and Swagger type lists",
      schema: {
        type: "object",
        properties: {
          names: { type: "array", items: { type: "string" } },
          ports: { type: "array", items: { "x-kubernetes-int-or-string": true } },
          time: { type: ["string", "null"] },
          count: { type: "integer", nullable: true },
        },
      },
      expected:
        "export interface T {\n  names?: string[];\n  ports?: Array<number | string>;\n  time?: string | null;\n" +
        "  count?: number | null;\n}\n",
    },
    {
      name: "nested objects are named by path, array items in the singular",
      schema: {
        type: "object",
        properties: {
          spec: {
            type: "object",
            properties: { image: { type: "object", properties: { url: { type: "string" } } } },
          },
          entries: { type: "array", items: { type: "object", properties: { key: { type: "string" } } } },
        },
      },
      expected:
        "export interface T {\n  spec?: TSpec;\n  entries?: TEntry[];\n}\n\n" +
        "export interface TSpec {\n  image?: TSpecImage;\n}\n\n" +
        "export interface TSpecImage {\n  url?: string;\n}\n\n" +
        "export interface TEntry {\n  key?: string;\n}\n",
    },
    {
      name: "$refs use the caller's names",
      schema: { type: "object", properties: { meta: { $ref: "#/definitions/v1.Meta" } } },
      expected: "export interface T {\n  meta?: V1Meta;\n}\n",
    },
    {
      name: "descriptions become JSDoc",
      schema: {
        type: "object",
        description: "A thing.",
        properties: { a: { type: "string", description: "The a." } },
      },
      expected: "/** A thing. */\nexport interface T {\n  /** The a. */\n  a?: string;\n}\n",
    },
  ];
  for (const { name, schema, expected } of cases) {
    it(name, () => {
      expect(emit(schema, (ref) => definitionTypeName(ref.replace("#/definitions/", "")))).to.equal(expected);
    });
  }

  it("shares one declaration for identical nested objects, named after their common path end", () => {
    const condition: SchemaNode = {
      type: "object",
      required: ["type"],
      properties: { type: { type: "string" } },
    };
    const withConditions = (other: string): SchemaNode => ({
      type: "object",
      properties: {
        status: {
          type: "object",
          properties: { [other]: { type: "string" }, conditions: { type: "array", items: condition } },
        },
      },
    });
    const roots: NamedSchema[] = [
      { name: "A", schema: withConditions("phase") },
      { name: "B", schema: withConditions("state") },
    ];
    const output = emitDeclarations(roots);
    expect(output).to.include("export interface Condition {\n  type: string;\n}\n");
    expect(output.match(/conditions\?: Condition\[\];/g)).to.have.length(2);
    expect(output).not.to.include("AStatusCondition");
  });

  it("keeps differing nested objects apart", () => {
    const output = emitDeclarations([
      {
        name: "A",
        schema: {
          type: "object",
          properties: { key: { type: "object", properties: { x: { type: "string" } } } },
        },
      },
      {
        name: "B",
        schema: {
          type: "object",
          properties: { key: { type: "object", properties: { y: { type: "string" } } } },
        },
      },
    ]);
    expect(output).to.include("export interface AKey {").and.to.include("export interface BKey {");
  });

  it("declares an interface once and aliases those whose members differ only in documentation", () => {
    const members = (doc: string): SchemaNode => ({
      type: "object",
      description: `Doc ${doc}.`,
      properties: { a: { type: "string", description: doc }, b: { type: "integer" } },
    });
    const output = emitDeclarations([
      { name: "A", schema: members("first") },
      { name: "B", schema: members("second") },
    ]);
    expect(output)
      .to.include("export interface A {")
      .and.to.include("/** Doc second. */\nexport type B = A;\n");
  });

  it("writes a large interface lacking a few members of another as Omit, and leaves small ones alone", () => {
    const properties = (count: number): Record<string, SchemaNode> =>
      Object.fromEntries(
        Array.from({ length: count }, (_, index) => [`p${String(index)}`, { type: "string" }]),
      );
    const object = (count: number): SchemaNode => ({ type: "object", properties: properties(count) });
    const large = emitDeclarations([
      { name: "Full", schema: object(8) },
      { name: "Part", schema: object(6) },
    ]);
    expect(large).to.include('export type Part = Omit<Full, "p6" | "p7">;');
    const small = emitDeclarations([
      { name: "Full", schema: object(5) },
      { name: "Part", schema: object(4) },
      { name: "One", schema: object(1) },
      { name: "Single", schema: object(1) },
    ]);
    expect(small).to.include("export interface Part {").and.to.include("export interface Single {");
  });

  it("aliases schemas without properties", () => {
    expect(emitDeclarations([{ name: "Q", schema: { type: ["string", "integer", "number"] } }])).to.equal(
      "export type Q = string | number;\n",
    );
    expect(emitDeclarations([{ name: "M", schema: { type: "object" } }])).to.equal(
      "export type M = Record<string, never>;\n",
    );
  });

  it("fails on a $ref without a refName option", () => {
    expect(() => emit({ type: "object", properties: { a: { $ref: "#/definitions/X" } } })).to.throw(
      /refName/,
    );
  });
});

describe("naming helpers", () => {
  it("singular", () => {
    const cases: Record<string, string> = {
      Conditions: "Condition",
      Gpus: "Gpu",
      Policies: "Policy",
      Statuses: "Status",
      Status: "StatusItem",
      Data: "DataItem",
    };
    for (const [plural, expected] of Object.entries(cases)) expect(singular(plural)).to.equal(expected);
  });

  it("screamingSnakeCase", () => {
    expect(screamingSnakeCase("ConfidentialVM")).to.equal("CONFIDENTIAL_VM");
    expect(screamingSnakeCase("AttestationPolicy")).to.equal("ATTESTATION_POLICY");
  });

  it("KubeVirt definition names", () => {
    expect(definitionTypeName("v1.VirtualMachine")).to.equal("V1VirtualMachine");
    expect(definitionTypeName("v1.LaunchSecurity")).to.equal("V1LaunchSecurity");
    expect(definitionTypeName("k8s.io.api.core.v1.Affinity")).to.equal("K8sIoApiCoreV1Affinity");
    expect(definitionTypeName("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta")).to.equal(
      "K8sIoApimachineryPkgApisMetaV1ObjectMeta",
    );
  });

  it("follows $refs transitively from the KubeVirt roots", () => {
    const spec = JSON.parse(readPinnedFile(root, "openapi-spec.json")) as Parameters<
      typeof reachableDefinitions
    >[0];
    const reachable = reachableDefinitions(spec, KUBEVIRT_ROOTS);
    expect(reachable).to.include.members([
      ...KUBEVIRT_ROOTS,
      "v1.TDX",
      "v1.SEVSNP",
      "v1.GPU",
      "k8s.io.api.core.v1.Affinity",
      "k8s.io.apimachinery.pkg.api.resource.Quantity",
    ]);
    expect(reachable).to.include.members([
      "v1.KubeVirtConfiguration",
      "v1.PciHostDevice",
      "v1.TDXConfiguration",
    ]);
    expect(reachable).not.to.include("v1.VirtualMachineInstanceMigration");
  });
});
