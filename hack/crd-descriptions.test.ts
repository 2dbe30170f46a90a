import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "chai";
import { undescribedCrdFields, undescribedFields } from "./lib/crd-descriptions.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

describe("hack/crd-descriptions: every CRD field has a description (kubectl explain)", function () {
  it("names every undescribed field by its kubectl explain path, through arrays and maps, and nothing described", function () {
    const schema = {
      type: "object",
      properties: {
        apiVersion: { type: "string" },
        kind: { type: "string" },
        metadata: { type: "object" },
        spec: {
          type: "object",
          description: "described",
          properties: {
            bare: { type: "string" },
            blank: { type: "string", description: "  " },
            list: {
              type: "array",
              description: "described",
              items: { type: "object", properties: { inner: { type: "string" } } },
            },
            map: {
              type: "object",
              description: "described",
              additionalProperties: {
                type: "object",
                properties: { value: { type: "integer", description: "ok" } },
              },
            },
          },
        },
        status: { type: "object", properties: { phase: { type: "string", description: "described" } } },
      },
    };
    expect(undescribedFields(schema)).to.deep.equal([
      "spec.bare",
      "spec.blank",
      "spec.list[].inner",
      "status",
    ]);
  });

  it("finds no undescribed field in crds/", function () {
    expect(undescribedCrdFields(root)).to.deep.equal([]);
  });

  it("fails (exit 1) listing each field when one loses its description, and passes on crds/ as they are", function () {
    const node = process.execPath;
    const passing = spawnSync(node, [join(root, "hack/crd-descriptions.ts")], { encoding: "utf8" });
    expect(passing.status, passing.stderr).to.equal(0);

    const copy = mkdtempSync(join(tmpdir(), "crd-descriptions-"));
    try {
      cpSync(join(root, "crds"), join(copy, "crds"), { recursive: true });
      const file = join(copy, "crds/attestationpolicies.trustgate.io.yaml");
      const text = readFileSync(file, "utf8");
      const described =
        /\n( +)allowDebug:\n\1 {2}type: boolean\n\1 {2}default: false\n\1 {2}description: [^\n]*\n/;
      expect(text).to.match(described);
      writeFileSync(
        file,
        text.replace(described, "\n$1allowDebug:\n$1  type: boolean\n$1  default: false\n"),
      );
      const failing = spawnSync(node, [join(root, "hack/crd-descriptions.ts"), copy], { encoding: "utf8" });
      expect(failing.status).to.equal(1);
      expect(failing.stderr).to.include(
        "crd-descriptions: no description: crds/attestationpolicies.trustgate.io.yaml: AttestationPolicy v1alpha1 spec.tdx.allowDebug",
      );
      expect(failing.stderr).to.include("crd-descriptions: 1 fields without a description");
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});
