import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { expect } from "chai";
import { parse } from "yaml";
import type { JSONSchemaProps } from "../json-schema.ts";
import { pruneUnknownFields } from "../structural-prune.ts";
import {
  ATTESTATION_POLICY_SCHEMA,
  CONFIDENTIAL_HOST_SCHEMA,
  CONFIDENTIAL_VM_SCHEMA,
} from "./generated/schemas.ts";
import { validateAttestationPolicy, validateConfidentialHost, validateConfidentialVM } from "./validation.ts";
import type { FieldError, ValidationResult } from "./validation.ts";
import { aConfidentialVM } from "../../../test/support/builders/confidential-vm.ts";

const samplesDir = fileURLToPath(new URL("../../../../crds/samples/", import.meta.url));

interface Sample {
  file: string;
  object: { kind?: string; metadata?: { annotations?: Record<string, string> } } & Record<string, unknown>;
}

function readSamples(dir: string): Sample[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith(".yaml"))
    .sort()
    .map((file) => ({ file, object: parse(readFileSync(dir + file, "utf8")) as Sample["object"] }));
}

const byKind: Record<
  string,
  { validate: (obj: unknown) => ValidationResult<unknown>; schema: JSONSchemaProps }
> = {
  ConfidentialVM: { validate: validateConfidentialVM, schema: CONFIDENTIAL_VM_SCHEMA },
  AttestationPolicy: { validate: validateAttestationPolicy, schema: ATTESTATION_POLICY_SCHEMA },
  ConfidentialHost: { validate: validateConfidentialHost, schema: CONFIDENTIAL_HOST_SCHEMA },
};

function kindOf(sample: Sample): {
  validate: (obj: unknown) => ValidationResult<unknown>;
  schema: JSONSchemaProps;
} {
  const entry = byKind[sample.object.kind ?? ""];
  if (entry === undefined) throw new Error(`${sample.file}: unexpected kind ${String(sample.object.kind)}`);
  return entry;
}

function errorsOf(result: ValidationResult<unknown>): FieldError[] {
  return result.ok ? [] : result.errors;
}

/** A ConfidentialVM with `spec` fields that may be invalid (the point of the test). */
function cvm(spec: Record<string, unknown>): Record<string, unknown> {
  return { ...aConfidentialVM(spec, "vm") };
}

describe("v1alpha1 validation", () => {
  describe("valid samples (crds/samples)", () => {
    for (const sample of readSamples(samplesDir)) {
      it(`${sample.file} validates and has no unknown fields`, () => {
        const { validate, schema } = kindOf(sample);
        expect(errorsOf(validate(sample.object))).to.deep.equal([]);
        expect(pruneUnknownFields(schema, sample.object)).to.deep.equal([]);
      });
    }
  });

  describe("invalid samples (crds/samples/invalid)", () => {
    for (const sample of readSamples(`${samplesDir}invalid/`)) {
      const expected = sample.object.metadata?.annotations?.["trustgate.io/expected-error"] ?? "";
      it(`${sample.file}: ${expected}`, () => {
        const { validate, schema } = kindOf(sample);
        const errors = errorsOf(validate(sample.object)).map(({ path, message }) => `${path}: ${message}`);
        const unknown = pruneUnknownFields(schema, sample.object).map((path) => `unknown field "${path}"`);
        expect([...errors, ...unknown], "refused offline, as the API server refuses it").to.not.be.empty;
        expect([...errors, ...unknown].join("\n")).to.include(expected);
      });
    }
  });

  describe("bad objects", () => {
    const cases: Array<{ name: string; object: unknown; expected: FieldError[] }> = [
      {
        name: "too many GPUs",
        object: cvm({ gpus: { count: 9 } }),
        expected: [{ path: "spec.gpus.count", message: "Invalid value: 9: must be less than or equal to 8" }],
      },
      {
        name: "unsupported TEE",
        object: cvm({ tee: "sev" }),
        expected: [{ path: "spec.tee", message: 'Unsupported value: "sev": supported values: "tdx", "snp"' }],
      },
      {
        name: "missing policyRef",
        object: cvm({ policyRef: undefined }),
        expected: [{ path: "spec.policyRef", message: "Required value" }],
      },
      {
        name: "memory neither integer nor string",
        object: cvm({ resources: { memory: true } }),
        expected: [
          { path: "spec.resources.memory", message: "Invalid value: true: must be an integer or a string" },
        ],
      },
      {
        name: "secret without a name, in a list",
        object: cvm({ secrets: [{ name: "a" }, { keys: ["k"] }] }),
        expected: [{ path: "spec.secrets[1].name", message: "Required value" }],
      },
      {
        name: "wrong kind",
        object: { ...cvm({}), kind: "VirtualMachine" },
        expected: [
          {
            path: "kind",
            message: 'Unsupported value: "VirtualMachine": supported values: "ConfidentialVM"',
          },
        ],
      },
    ];
    for (const { name, object, expected } of cases) {
      it(name, () => {
        expect(errorsOf(validateConfidentialVM(object))).to.deep.equal(expected);
      });
    }

    it("accepts an int-or-string memory given as a number", () => {
      expect(validateConfidentialVM(cvm({ resources: { memory: 17179869184 } })).ok).to.equal(true);
    });

    it("rejects a malformed GPU PCI address in host status", () => {
      const host = {
        apiVersion: "trustgate.io/v1alpha1",
        kind: "ConfidentialHost",
        metadata: { name: "node-1" },
        status: {
          gpus: [{ pciAddress: "19:00.0", vendorId: "0x10de", deviceId: "0x2330", ccMode: "on" }],
          observedAt: "yesterday",
        },
      };
      expect(errorsOf(validateConfidentialHost(host))).to.deep.equal([
        {
          path: "status.observedAt",
          message: 'Invalid value: "yesterday": must be a valid date-time',
        },
        {
          path: "status.gpus[0].pciAddress",
          message:
            'Invalid value: "19:00.0": must match the regular expression "^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\\\\.[0-7]$"',
        },
      ]);
    });

    it("returns the object typed on success", () => {
      const result = validateAttestationPolicy({
        apiVersion: "trustgate.io/v1alpha1",
        kind: "AttestationPolicy",
        metadata: { name: "p" },
        spec: { gpu: { mode: "remote" } },
      });
      expect(result.ok && result.value.spec.gpu?.mode).to.equal("remote");
    });
  });

  describe("pruneUnknownFields", () => {
    it("finds a typo'd field the API server would drop", () => {
      const object = cvm({ gpu: { count: 1 } });
      expect(pruneUnknownFields(CONFIDENTIAL_VM_SCHEMA, object)).to.deep.equal(["spec.gpu"]);
      expect(errorsOf(validateConfidentialVM(object))).to.deep.equal([
        { path: "spec.gpu", message: 'unknown field "spec.gpu"' },
      ]);
    });

    it("walks lists and leaves maps, apiVersion and kind alone", () => {
      const object = cvm({
        nodeSelector: { "topology.kubernetes.io/zone": "a" },
        secrets: [{ name: "s", key: "typo" }],
      });
      expect(pruneUnknownFields(CONFIDENTIAL_VM_SCHEMA, object)).to.deep.equal(["spec.secrets[0].key"]);
    });

    it("checks metadata against ObjectMeta", () => {
      const object = { ...cvm({}), metadata: { name: "vm", label: { a: "b" } } };
      expect(pruneUnknownFields(CONFIDENTIAL_VM_SCHEMA, object)).to.deep.equal(["metadata.label"]);
    });
  });
});
