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

/** The schema's maxLength of `gpus[].rims.driver` / `.vbios`. */
const RIM_MAX_LENGTH = 524_288;

/**
 * ajv checks maxLength by counting code points, which for eight GPUs' RIMs (16 × 20-40 kB) was most of the time
 * spent on an 8-GPU bundle. A string no longer than the limit in UTF-16 units is within it in code points too, so
 * such RIM texts are validated as "" (a string, as the schema wants); longer ones are left to ajv.
 */
function withShortRimsBlanked(value: unknown): unknown {
  const gpus = (value as { gpus?: unknown } | null)?.gpus;
  if (!Array.isArray(gpus)) return value;
  return {
    ...(value as object),
    gpus: gpus.map((gpu: unknown) => {
      const rims = (gpu as { rims?: unknown } | null)?.rims;
      if (typeof rims !== "object" || rims === null || Array.isArray(rims)) return gpu;
      const blanked = Object.entries(rims).map(([role, text]) => [
        role,
        typeof text === "string" && text.length <= RIM_MAX_LENGTH ? "" : (text as unknown),
      ]);
      return { ...(gpu as object), rims: Object.fromEntries(blanked) as unknown };
    }),
  };
}

/**
 * Checks a bundle's shape against the CRD's `status.evidence` schema (the single source of truth);
 * a malformed bundle is evidence that is not authentic, not an input error.
 */
export function parseBundle(
  value: unknown,
): { ok: true; bundle: EvidenceBundle } | { ok: false; errors: VerificationError[] } {
  const result = validateEvidence(withShortRimsBlanked(value));
  if (result.ok) return { ok: true, bundle: value as EvidenceBundle };
  return {
    ok: false,
    errors: result.errors.map((e) => ({
      code: "EvidenceMalformed",
      message: `bundle ${e.path}: ${e.message}`,
    })),
  };
}
