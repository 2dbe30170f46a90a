/** Assembles the evidence bundle (docs/evidence-bundle.md#bundle) that answers one challenge with one guest key. */
import { expectedReportData, gpuNonce } from "../../operator/src/attestation/binding.ts";
import { signGpuSystem } from "../../operator/src/attestation/gpu/gpu-system-signature.ts";
import type { EvidenceBundle } from "../../operator/src/attestation/types.ts";
import type { GuestKey } from "./guest-key.ts";
import type { GpuEvidenceProvider, HardwareHints, TeeEvidenceProvider } from "./providers/types.ts";

export interface EvidenceProviders {
  tee: TeeEvidenceProvider;
  /** Undefined: a CVM without GPUs (`--gpu-provider none`). */
  gpus?: GpuEvidenceProvider;
}

/**
 * reportData = SHA-512(nonce ‖ key thumbprint) into the TEE evidence; its first 32 bytes into every GPU's SPDM nonce;
 * with GPUs, their CC state as the driver reports it (the guest's word, signed with the same key so that no other
 * writer of status.evidence can change it).
 */
export async function collectEvidence(
  nonce: string,
  key: GuestKey,
  providers: EvidenceProviders,
  hardware: HardwareHints,
): Promise<EvidenceBundle> {
  const reportData = await expectedReportData(nonce, key.publicJwk);
  const tee = await providers.tee.collect(reportData, hardware);
  const gpus =
    providers.gpus === undefined ? [] : await providers.gpus.collect(gpuNonce(reportData), hardware);
  if (gpus.length === 0) return { nonce, publicKey: key.publicJwk, tee };
  const gpuSystem = await providers.gpus?.systemState?.();
  if (gpuSystem === undefined) return { nonce, publicKey: key.publicJwk, tee, gpus };
  const gpuSystemSignature = await signGpuSystem(nonce, gpuSystem, key.privateKey);
  return { nonce, publicKey: key.publicJwk, gpuSystem, gpuSystemSignature, tee, gpus };
}
