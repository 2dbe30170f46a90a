/** Node labels owned by the host controller (the agent never patches Nodes). */
export const LABEL_VALIDATED = "trustgate.io/validated";
export const LABEL_TEE = "trustgate.io/tee";
/** The host's GPU mode (host/gpu-mode.ts): on, ppcie, off, devtools, mixed, unknown or none. */
export const LABEL_GPU_CC = "trustgate.io/gpu-cc";
export const LABEL_GPU_COUNT = "trustgate.io/gpu-count";
/** Annotation on a Node listing the label keys the host controller owns and may remove. */
export const ANNOTATION_OWNED_LABELS = "trustgate.io/owned-labels";

/** Workload label: the pod is admitted only while this ConfidentialVM (same namespace) is attested. */
export const LABEL_REQUIRES_ATTESTED_VM = "trustgate.io/requires-attested-vm";
/** Label on objects trustgate creates for a ConfidentialVM (VirtualMachine, Secrets). */
export const LABEL_CONFIDENTIAL_VM = "trustgate.io/confidentialvm";

export const FINALIZER = "trustgate.io/finalizer";
export const GUEST_FIELD_MANAGER = "trustgate-guest";
