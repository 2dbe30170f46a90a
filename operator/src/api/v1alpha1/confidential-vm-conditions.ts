/** ConfidentialVM condition types and reasons. */
export const CONDITION_HOST_VALIDATED = "HostValidated";
export const CONDITION_DEPLOYED = "Deployed";
export const CONDITION_ATTESTED = "Attested";
export const CONDITION_READY = "Ready";
/** TDX: Intel's next TCB evaluation (PCS `update=early`) will rate the TD worse than today's standard one. */
export const CONDITION_TCB_DRIFT_SOON = "TcbDriftSoon";
/** KubeVirt can launch the CVM's VM: installed and configured for its TEE and devices, and its Node is ready. */
export const CONDITION_KUBEVIRT_READY = "KubeVirtReady";

export const REASON_POLICY_NOT_FOUND = "PolicyNotFound";
/** The AttestationPolicy fails the CRD's checks offline: no host is chosen and nothing is attested under it. */
export const REASON_POLICY_INVALID = "PolicyInvalid";
export const REASON_NO_ELIGIBLE_HOST = "NoEligibleHost";
export const REASON_HOST_VALIDATED = "HostValidated";
export const REASON_HOST_NOT_VALIDATED = "HostNotValidated";
export const REASON_HOST_GONE = "HostNotFound";
export const REASON_VM_RELAUNCHING = "Relaunching";
export const REASON_VMI_PENDING = "VMINotRunning";
export const REASON_VMI_RUNNING = "VMIRunning";
export const REASON_VMI_FAILED = "VMIFailed";
export const REASON_VM_INVALID = "VirtualMachineInvalid";
export const REASON_NOT_SCHEDULED = "NotScheduled";
export const REASON_NOT_ATTESTED = "NotAttested";
export const REASON_ATTESTED = "Attested";
export const REASON_RESULT_EXPIRED = "ResultExpired";
export const REASON_HALTED = "Halted";
export const REASON_CDI_MISSING = "CDINotInstalled";
/** KubeVirtReady=True. False reasons are the preflight's (operator/src/kubevirt/preflight.ts). */
export const REASON_KUBEVIRT_READY = "KubeVirtReady";
/** The VM is not created while KubeVirt cannot launch it (KubeVirtReady=False says why). */
export const REASON_KUBEVIRT_NOT_READY = "KubeVirtNotReady";
/** TcbDriftSoon=True: the early TCB evaluation rates the TD worse than the standard one does today. */
export const REASON_TCB_DRIFT_SOON = "TcbDriftSoon";
/** TcbDriftSoon=False: no newer evaluation, or it rates the TD no worse. */
export const REASON_NO_TCB_DRIFT = "NoTcbDrift";
/** TcbDriftSoon=False: Intel's early TCB info was not compared (another platform, outside its window, no rating). */
export const REASON_EARLY_TCB_INFO_UNUSABLE = "EarlyTcbInfoUnusable";

/** Annotation on a VirtualMachine: hash of what it was rendered as (see renderedLaunchHash). */
export const ANNOTATION_LAUNCH_HASH = "trustgate.io/launch-hash";
/** The annotation VirtualMachines launched before the rendered hash carry: a hash of hand-picked spec fields. */
export const ANNOTATION_SPEC_HASH = "trustgate.io/spec-hash";
