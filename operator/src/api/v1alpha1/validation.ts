import { celRuleErrors } from "../cel-rules.ts";
import type { JSONSchemaProps } from "../json-schema.ts";
import { defaultingSchemaValidator, resourceSchema } from "../schema-validator.ts";
import { pruneUnknownFields } from "../structural-prune.ts";
import type { Validator } from "../schema-validator.ts";
import {
  ATTESTATION_POLICY_SCHEMA,
  CONFIDENTIAL_HOST_SCHEMA,
  CONFIDENTIAL_VM_SCHEMA,
} from "./generated/schemas.ts";
import { API_VERSION, ATTESTATION_POLICY, CONFIDENTIAL_HOST, CONFIDENTIAL_VM } from "./generated/types.ts";
import type { AttestationPolicy, ConfidentialHost, ConfidentialVM } from "./generated/types.ts";

export type { FieldError, ValidationResult } from "../schema-validator.ts";

/**
 * Checks a whole object offline as the API server would on create: the CRD's defaults applied (to a copy, which is
 * the value returned), the structural schema (types, enums, bounds, patterns, formats), then, on an object that
 * passes it, unknown fields (refused as by `kubectl apply`'s strict field validation: a typo'd pin would otherwise
 * pin nothing) and the CRD's CEL rules (transition rules need the stored object and are left to the API server).
 */
function crdValidator<T>(schema: JSONSchemaProps, kind: string): Validator<T> {
  const structural = defaultingSchemaValidator<T>(resourceSchema(schema, API_VERSION, kind));
  return (obj) => {
    const result = structural(obj);
    if (!result.ok) return result;
    const unknown = pruneUnknownFields(schema, result.value).map((path) => ({
      path,
      message: `unknown field "${path}"`,
    }));
    const errors = [...unknown, ...celRuleErrors(schema, result.value)];
    return errors.length === 0 ? result : { ok: false, errors };
  };
}

/** Checks a whole ConfidentialVM (apiVersion, kind and metadata included) against its CRD. */
export const validateConfidentialVM: Validator<ConfidentialVM> = crdValidator(
  CONFIDENTIAL_VM_SCHEMA,
  CONFIDENTIAL_VM.kind,
);

/** Checks a whole AttestationPolicy against its CRD. */
export const validateAttestationPolicy: Validator<AttestationPolicy> = crdValidator(
  ATTESTATION_POLICY_SCHEMA,
  ATTESTATION_POLICY.kind,
);

/** Checks a whole ConfidentialHost (status included) against its CRD. */
export const validateConfidentialHost: Validator<ConfidentialHost> = crdValidator(
  CONFIDENTIAL_HOST_SCHEMA,
  CONFIDENTIAL_HOST.kind,
);
