/** AttestationPolicy condition types and reasons. */
export const CONDITION_READY = "Ready";
export const CONDITION_MEASUREMENTS_PINNED = "MeasurementsPinned";

export const REASON_VALID = "Valid";
export const REASON_INVALID_FRESHNESS = "InvalidFreshness";
export const REASON_PINNED = "Pinned";
export const REASON_NOT_PINNED = "NotPinned";
