import { resourceSchema, schemaValidator } from "../schema-validator.ts";
import type { Validator } from "../schema-validator.ts";
import {
  ATTESTATION_POLICY_SCHEMA,
  CONFIDENTIAL_HOST_SCHEMA,
  CONFIDENTIAL_VM_SCHEMA,
} from "./generated/schemas.ts";
import { API_VERSION, ATTESTATION_POLICY, CONFIDENTIAL_HOST, CONFIDENTIAL_VM } from "./generated/types.ts";
import type { AttestationPolicy, ConfidentialHost, ConfidentialVM } from "./generated/types.ts";

export type { FieldError, ValidationResult } from "../schema-validator.ts";

// Checks the CRD schemas offline. Ajv ignores x-kubernetes-* keys and CEL rules; the API server enforces those.

/** Checks a whole ConfidentialVM (apiVersion, kind and metadata included) against its CRD schema. */
export const validateConfidentialVM: Validator<ConfidentialVM> = schemaValidator(
  resourceSchema(CONFIDENTIAL_VM_SCHEMA, API_VERSION, CONFIDENTIAL_VM.kind),
);

/** Checks a whole AttestationPolicy against its CRD schema. */
export const validateAttestationPolicy: Validator<AttestationPolicy> = schemaValidator(
  resourceSchema(ATTESTATION_POLICY_SCHEMA, API_VERSION, ATTESTATION_POLICY.kind),
);

/** Checks a whole ConfidentialHost (status included) against its CRD schema. */
export const validateConfidentialHost: Validator<ConfidentialHost> = schemaValidator(
  resourceSchema(CONFIDENTIAL_HOST_SCHEMA, API_VERSION, CONFIDENTIAL_HOST.kind),
);
