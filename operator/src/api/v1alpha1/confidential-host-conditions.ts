/** Condition types and reasons of ConfidentialHost (exported constants, cert-manager style). */
export const CONDITION_VALIDATED = "Validated";
export const CONDITION_TEE_READY = "TEEReady";
export const CONDITION_GPUS_READY = "GPUsReady";

export const REASON_VALID = "HostValid";
export const REASON_NO_REPORT = "NoReport";
export const REASON_REPORT_INVALID = "ReportSignatureInvalid";
export const REASON_KEY_CHANGED = "AgentKeyChanged";
export const REASON_REPORT_STALE = "ReportStale";
export const REASON_NODE_MISSING = "NodeNotFound";
export const REASON_TEE_NOT_READY = "TEENotReady";
export const REASON_IOMMU_NOT_READY = "IOMMUNotReady";
export const REASON_GPUS_NOT_READY = "GPUsNotReady";
export const REASON_TEE_ENABLED = "TEEEnabled";
export const REASON_GPUS_CC_ON = "AllGPUsCCOn";
/** Every GPU and NVSwitch of the board in protected PCIe mode: the host offers the whole board to one CVM. */
export const REASON_GPUS_PPCIE = "AllGPUsProtectedPCIe";
export const REASON_NO_GPUS = "NoGPUs";

/** Annotations on a ConfidentialHost: the agent key the controller pinned, and an admin's acknowledgment. */
export const ANNOTATION_PINNED_KEY = "trustgate.io/pinned-key-id";
export const ANNOTATION_ACKNOWLEDGED_KEY = "trustgate.io/acknowledged-key-id";
