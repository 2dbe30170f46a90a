/** AttestationPolicy condition types and reasons. */
export const CONDITION_READY = "Ready";
export const CONDITION_MEASUREMENTS_PINNED = "MeasurementsPinned";

export const REASON_VALID = "Valid";
/** The policy fails the CRD's checks offline (schema, unknown fields, CEL rules): no CVM under it is attested. */
export const REASON_INVALID = "Invalid";
export const REASON_PINNED = "Pinned";
/** A TEE's launch measurement is not pinned: CVMs of that TEE are not Attested (MeasurementsUnpinned). */
export const REASON_NOT_PINNED = "NotPinned";
/** Not pinned, and `spec.allowUnpinnedMeasurements` accepts any genuine guest of that TEE. */
export const REASON_UNPINNED_ALLOWED = "UnpinnedAllowed";
