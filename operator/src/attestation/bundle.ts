import { CONFIDENTIAL_VM_SCHEMA } from "../api/v1alpha1/generated/schemas.ts";
import type { JSONSchemaProps } from "../api/json-schema.ts";
import { schemaValidator } from "../api/schema-validator.ts";
import type { EvidenceBundle, VerificationError } from "./types.ts";

function evidenceSchema(): JSONSchemaProps {
  const schema = CONFIDENTIAL_VM_SCHEMA.properties?.["status"]?.properties?.["evidence"];
  if (schema === undefined) throw new Error("the ConfidentialVM CRD has no status.evidence schema");
  return schema;
}

const validateEvidence = schemaValidator<EvidenceBundle>(evidenceSchema());

/**
 * Checks a bundle's shape against the CRD's `status.evidence` schema (the single source of truth);
 * a malformed bundle is evidence that is not authentic, not an input error.
 */
export function parseBundle(
  value: unknown,
): { ok: true; bundle: EvidenceBundle } | { ok: false; errors: VerificationError[] } {
  const result = validateEvidence(value);
  if (result.ok) return { ok: true, bundle: result.value };
  return {
    ok: false,
    errors: result.errors.map((e) => ({
      code: "EvidenceMalformed",
      message: `bundle ${e.path}: ${e.message}`,
    })),
  };
}
