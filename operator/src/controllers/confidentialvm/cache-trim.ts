import type { ConfidentialVM } from "../../api/v1alpha1/generated/types.ts";

/**
 * The controller's cache keeps of a ConfidentialVM's evidence only what the handshake decides on: the nonce it
 * answers and the key it binds. The bundle itself (tens of KB with 8 GPUs, hundreds with their RIMs) would be
 * most of the controller's heap at a thousand CVMs; it is read from the API server when it is appraised.
 */
export function trimConfidentialVM(cvm: ConfidentialVM): void {
  const evidence = cvm.status?.evidence;
  if (cvm.status === undefined || evidence === undefined) return;
  cvm.status.evidence = {
    nonce: evidence.nonce,
    publicKey: evidence.publicKey,
    tee: { type: evidence.tee.type },
  };
}
