/**
 * The guest signs the GPUs' CC state (`status.evidence.gpuSystem`) with its ephemeral key, the key bound into the TEE
 * evidence's reportData, over the challenge nonce and the state. No GPU signs that state, and the guest's
 * ServiceAccount token (readable by the host owner from the cloud-init disk) lets its holder rewrite status.evidence:
 * the signature keeps such a writer from changing the state or dropping it, because only the process inside the TEE
 * holds the key. A guest that lies about what NVML said is not caught here; the RIM match is the hardware-signed check.
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import { CompactSign, compactVerify, decodeProtectedHeader } from "jose";
import type { GuestPublicKey } from "../binding.ts";
import type { EvidenceBundle, PolicyViolation } from "../types.ts";
import type { GpuSystemState } from "./appraise-gpu-system.ts";

export const GPU_SYSTEM_SIGNATURE_ALG = "ES256";
export const GPU_SYSTEM_SIGNATURE_TYP = "trustgate-gpu-system+jws";

/** The signed bytes: fixed key order, so signer and verifier build the same JSON from the same values. */
export function gpuSystemSigningInput(nonce: string, state: GpuSystemState): Uint8Array {
  const { ccFeature, devToolsMode, environment, multiGpuMode, readyState } = state;
  const payload = { nonce, gpuSystem: { ccFeature, devToolsMode, environment, multiGpuMode, readyState } };
  return new TextEncoder().encode(JSON.stringify(payload));
}

export async function signGpuSystem(
  nonce: string,
  state: GpuSystemState,
  privateKey: KeyObject,
): Promise<string> {
  return new CompactSign(gpuSystemSigningInput(nonce, state))
    .setProtectedHeader({ alg: GPU_SYSTEM_SIGNATURE_ALG, typ: GPU_SYSTEM_SIGNATURE_TYP })
    .sign(privateKey);
}

const FIELD = "status.evidence.gpuSystemSignature";

function violation(actual: string, message: string): PolicyViolation {
  return { field: FIELD, expected: ["signed by the guest key bound to the TEE evidence"], actual, message };
}

async function signatureProblem(
  jws: string,
  nonce: string,
  state: GpuSystemState,
  publicKey: GuestPublicKey,
): Promise<string | undefined> {
  let typ: unknown;
  try {
    typ = decodeProtectedHeader(jws).typ;
  } catch {
    return "is not a compact JWS";
  }
  if (typ !== GPU_SYSTEM_SIGNATURE_TYP) return `has typ ${String(typ)}, not ${GPU_SYSTEM_SIGNATURE_TYP}`;
  let payload: Uint8Array;
  try {
    const key = createPublicKey({ key: { ...publicKey }, format: "jwk" });
    ({ payload } = await compactVerify(jws, key, { algorithms: [GPU_SYSTEM_SIGNATURE_ALG] }));
  } catch {
    return "does not verify with the bundle's publicKey (ES256)";
  }
  const expected = gpuSystemSigningInput(nonce, state);
  if (Buffer.compare(Buffer.from(payload), Buffer.from(expected)) !== 0) {
    return "was made over another nonce or another GPU state than the bundle carries";
  }
  return undefined;
}

/**
 * Violations of the state's provenance. `required`: the caller knows the bundle comes from a trustgate guest with
 * GPUs (the controller), which always sends the signed state, so a bundle with GPUs and no state was altered.
 * `trustgate verify` also reads bundles assembled elsewhere and passes false.
 */
export async function gpuSystemProvenanceViolations(
  bundle: EvidenceBundle,
  required: boolean,
): Promise<PolicyViolation[]> {
  const gpuCount = bundle.gpus?.length ?? 0;
  if (gpuCount === 0) return [];
  const state = bundle.gpuSystem;
  const jws = bundle.gpuSystemSignature;
  if (state === undefined) {
    if (!required && jws === undefined) return [];
    return [
      violation(
        "no gpuSystem",
        `the bundle holds evidence of ${gpuCount} GPU(s) but not their CC state (status.evidence.gpuSystem), which ` +
          "the trustgate guest always sends signed: it was removed by another writer of status.evidence",
      ),
    ];
  }
  if (jws === undefined) {
    return [
      violation(
        "unsigned",
        "status.evidence.gpuSystem carries no gpuSystemSignature: the GPUs' CC state is accepted only when the " +
          "guest key bound to the TEE evidence signed it",
      ),
    ];
  }
  const problem = await signatureProblem(jws, bundle.nonce, state, bundle.publicKey);
  if (problem === undefined) return [];
  return [
    violation(
      "signature invalid",
      `status.evidence.gpuSystemSignature ${problem}: the GPUs' CC state was not written by the guest that holds ` +
        "the key bound to the TEE evidence",
    ),
  ];
}
