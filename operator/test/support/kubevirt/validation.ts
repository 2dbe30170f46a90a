import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import type { JSONSchemaProps } from "../../../src/api/json-schema.ts";
import { resourceSchema, schemaValidator } from "../../../src/api/schema-validator.ts";
import type { FieldError, ValidationResult, Validator } from "../../../src/api/schema-validator.ts";
import { pruneUnknownFields } from "../../../src/api/structural-prune.ts";
import { KUBEVIRT_API_SPEC } from "../../../src/kubevirt/generated/types.ts";
import type { VirtualMachine } from "../../../src/kubevirt/generated/types.ts";
import { REPO_ROOT } from "../samples.ts";

export type { FieldError, ValidationResult } from "../../../src/api/schema-validator.ts";

/** The pinned VirtualMachine CRD, relative to the repo root. */
export const VIRTUAL_MACHINE_CRD = "hack/kubevirt/crds/virtualmachines.kubevirt.io.yaml";

interface CrdDocument {
  spec?: { versions?: Array<{ name?: string; schema?: { openAPIV3Schema?: JSONSchemaProps } }> };
}

let virtualMachine: { schema: JSONSchemaProps; validate: Validator<VirtualMachine> } | undefined;

/** The `v1` openAPIV3Schema of KubeVirt's VirtualMachine CRD (read once; checked against the pin). */
export function virtualMachineSchema(): JSONSchemaProps {
  return loadVirtualMachine().schema;
}

function loadVirtualMachine(): { schema: JSONSchemaProps; validate: Validator<VirtualMachine> } {
  if (virtualMachine !== undefined) return virtualMachine;
  const path = join(REPO_ROOT, VIRTUAL_MACHINE_CRD);
  const content = readFileSync(path);
  const digest = createHash("sha256").update(content).digest("hex");
  const pinned = KUBEVIRT_API_SPEC.crds[VIRTUAL_MACHINE_CRD];
  if (digest !== pinned) {
    throw new Error(`${path} has sha256 ${digest}, but the generated KubeVirt types are pinned to ${pinned}`);
  }
  const document = parse(content.toString("utf8")) as CrdDocument;
  const schema = document.spec?.versions?.find((version) => version.name === "v1")?.schema?.openAPIV3Schema;
  if (schema === undefined) throw new Error(`${path}: no openAPIV3Schema for version v1`);
  const validate = schemaValidator<VirtualMachine>(
    resourceSchema(schema, "kubevirt.io/v1", "VirtualMachine"),
  );
  virtualMachine = { schema, validate };
  return virtualMachine;
}

/**
 * Checks a whole VirtualMachine against KubeVirt's CRD schema (types, enums, bounds, patterns) and
 * reports every field the API server would silently prune as an error too. KubeVirt's admission
 * webhooks (runStrategy values, launchSecurity rules, feature gates) are not checked here.
 */
export function validateVirtualMachine(vm: unknown): ValidationResult<VirtualMachine> {
  const { schema, validate } = loadVirtualMachine();
  const result = validate(vm);
  const unknownFields: FieldError[] = pruneUnknownFields(schema, vm).map((path) => ({
    path,
    message: "Unknown field: the API server would drop it",
  }));
  if (unknownFields.length === 0) return result;
  return { ok: false, errors: [...(result.ok ? [] : result.errors), ...unknownFields] };
}
