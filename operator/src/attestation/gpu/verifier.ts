/**
 * The local GPU evidence verifier (the nvtrust "local verifier" flow, stricter): for each `gpus[]` entry, parse the
 * SPDM evidence, verify the device chain to a pinned NVIDIA root as of `now`, the ECDSA P-384 signature over
 * request ‖ response, the FWID and the request nonce; compare the reported versions; then reject duplicate devices
 * within the bundle. `authentic` covers signature, chain and FWID only. `verify` never throws.
 */
import type { AttestationServiceClient } from "../collateral/attestation-service-client.ts";
import { verifyP1363 } from "../../crypto/ecdsa-signature.ts";
import { decodeBase64Strict } from "../../crypto/pem.ts";
import {
  EvidenceError,
  toVerificationError,
  type GpuEvidenceVerifier,
  type GpuResult,
  type GpuVerificationSources,
  type VerificationError,
} from "../types.ts";
import {
  MEASUREMENTS_UNCHECKED,
  REVOCATION_UNCHECKED,
  type AuthenticGpuEvidence,
  type GpuAppraisalContext,
  type GpuEvidenceEntry,
  type GpuMeasurementAppraiser,
  type GpuRevocationChecker,
  type MeasurementAppraisal,
} from "./checks.ts";
import {
  DeviceChainVerifier,
  PINNED_NVIDIA_ANCHORS,
  type DeviceKind,
  type GpuTrustAnchors,
  type VerifiedDevice,
} from "./device-chain.ts";
import { createNrasAppraiser, type GpuRemoteAppraiser } from "./nras/remote.ts";
import { createOcspRevocationChecker } from "./ocsp/revocation.ts";
import { reportedVersionErrors } from "./reported-versions.ts";
import { createRimAppraiser } from "./rim/rim-measurement-check.ts";
import type { RimVerifier } from "./rim/rim.ts";
import { parseSpdmEvidence, type SpdmEvidence } from "./spdm-evidence.ts";
import { devicePdiHex, switchPdiHex } from "./opaque-data.ts";

export interface LocalGpuVerifierConfig {
  /** Trust anchors; defaults to the pinned NVIDIA Device Identity CA. */
  anchors?: GpuTrustAnchors;
  /** Clock used when a caller passes no verification time. */
  now?: () => Date;
  /** Verified device chains kept in memory (default 1024; 0 disables the cache). */
  chainCacheEntries?: number;
  /** RIM appraisal; default: RIMs from the bundle or the policy's RIM service, verified to the pinned CoRIM root. */
  measurements?: GpuMeasurementAppraiser;
  /** Revocation of the device and RIM chains; default: OCSP with the policy's `gpu.ocspUrl` ("unchecked" without). */
  revocation?: GpuRevocationChecker;
  /** Remote mode's appraisal (instead of RIMs and OCSP); default: NRAS at the policy's `gpu.nrasUrl`. */
  remote?: GpuRemoteAppraiser;
  /** Appraise remotely whatever the policy's `gpu.mode` says (`trustgate verify --nras-token`). */
  alwaysRemote?: boolean;
  /** The client the default RIM, OCSP and NRAS appraisers ask NVIDIA's services with (timeouts, caps, metrics). */
  client?: AttestationServiceClient;
  /** The default RIM appraiser keeps fetched RIMs here across restarts (`--rim-cache-dir`); re-verified when read. */
  rimCache?: { dir: string; onProblem?: (id: string, message: string) => void };
}

/** GpuResult plus the device model NRAS also reports. */
export interface LocalGpuResult extends GpuResult {
  deviceType?: DeviceKind;
  hwmodel?: string;
  /** Active RIM measurement indexes compared, and how many matched. */
  rim?: { active: number; matched: number };
}

export interface GpuVerifyOptions {
  now: Date;
  expectedNonce?: Uint8Array;
  /** The policy's RIM service, OCSP responder and NRAS; default: local mode with the built-in defaults. */
  sources?: GpuVerificationSources;
}

export interface LocalGpuVerifier extends GpuEvidenceVerifier {
  readonly chains: DeviceChainVerifier;
  /** The RIM verifier of the default RIM appraiser (absent when another appraiser is configured). */
  readonly rims?: RimVerifier;
  verify(gpus: readonly GpuEvidenceEntry[], options: GpuVerifyOptions): Promise<LocalGpuResult[]>;
}

interface Verified {
  result: LocalGpuResult;
  device?: VerifiedDevice;
}

function verifySpdmSignature(spdm: SpdmEvidence, device: VerifiedDevice): boolean {
  return verifyP1363("sha384", spdm.signedBytes, device.leafKey, spdm.response.signature);
}

function fwidError(spdm: SpdmEvidence, device: VerifiedDevice): VerificationError | undefined {
  const reported = spdm.opaque.fwid;
  if (reported === undefined) return undefined; // older firmware (535/545) reports no FWID
  if (device.fwid !== undefined && Buffer.from(reported).equals(device.fwid)) return undefined;
  const actual = Buffer.from(reported).toString("hex");
  const expected = device.fwid === undefined ? "none" : Buffer.from(device.fwid).toString("hex");
  return {
    code: "ChainInvalid",
    message: `opaque FWID ${actual} differs from the leaf certificate's FWID ${expected}`,
  };
}

function nonceError(spdm: SpdmEvidence, expected: Uint8Array | undefined): VerificationError | undefined {
  if (expected === undefined || Buffer.from(spdm.request.nonce).equals(expected)) return undefined;
  const actual = Buffer.from(spdm.request.nonce).toString("hex");
  return {
    code: "NonceMismatch",
    message: `SPDM request nonce ${actual} differs from the expected ${Buffer.from(expected).toString("hex")}`,
  };
}

function baseResult(index: number, entry: GpuEvidenceEntry, spdm?: SpdmEvidence): LocalGpuResult {
  return {
    index,
    authentic: false,
    nonce: spdm === undefined ? "" : Buffer.from(spdm.request.nonce).toString("hex"),
    driverVersion: spdm === undefined ? (entry.driverVersion ?? "") : (spdm.opaque.driverVersion ?? ""),
    vbiosVersion: spdm === undefined ? (entry.vbiosVersion ?? "") : (spdm.opaque.vbiosVersion ?? ""),
    measurements: "unchecked",
    revocation: "unchecked",
    errors: [],
  };
}

function failedResult(index: number, error: unknown): LocalGpuResult {
  return {
    index,
    authentic: false,
    nonce: "",
    driverVersion: "",
    vbiosVersion: "",
    measurements: "unchecked",
    revocation: "unchecked",
    errors: [toVerificationError(error)],
  };
}

async function verifyOne(
  chains: DeviceChainVerifier,
  hooks: { measurements: GpuMeasurementAppraiser; revocation: GpuRevocationChecker },
  index: number,
  entry: GpuEvidenceEntry,
  options: { now: Date; expectedNonce?: Uint8Array; context: GpuAppraisalContext },
): Promise<Verified> {
  let spdm: SpdmEvidence;
  try {
    spdm = parseSpdmEvidence(decodeBase64Strict(entry.evidence, `gpus[${index}].evidence`));
  } catch (error) {
    return { result: { ...baseResult(index, entry), errors: [toVerificationError(error)] } };
  }
  const result = baseResult(index, entry, spdm);
  const nonce = nonceError(spdm, options.expectedNonce);
  let device: VerifiedDevice;
  try {
    device = chains.verify(entry.certChain, options.now);
  } catch (error) {
    result.errors.push(toVerificationError(error));
    if (nonce !== undefined) result.errors.push(nonce);
    return { result };
  }
  const authenticity: VerificationError[] = [];
  if (!verifySpdmSignature(spdm, device)) {
    authenticity.push({
      code: "SignatureInvalid",
      message: "SPDM signature does not verify under the device leaf key",
    });
  }
  const fwid = fwidError(spdm, device);
  if (fwid !== undefined) authenticity.push(fwid);
  result.authentic = authenticity.length === 0;
  result.deviceType = device.kind;
  result.hwmodel = device.hwmodel;
  result.ueid = device.ueid;
  result.deviceIdentity = device.deviceIdentity;
  const topology = signedTopology(spdm, device.kind);
  if (topology !== undefined) result.topology = topology;
  result.errors.push(...authenticity);
  if (nonce !== undefined) result.errors.push(nonce);
  result.errors.push(...reportedVersionErrors(entry, spdm.opaque, device));
  if (result.authentic) await runHooks(hooks, { index, entry, spdm, device }, options, result);
  return { result, device };
}

/** The NVLink topology the device signed (opaque SWITCH_PDI / DEVICE_PDI and SWITCH_GPU_PDIS). */
function signedTopology(spdm: SpdmEvidence, kind: "gpu" | "switch"): GpuResult["topology"] {
  const { pdis, switchGpuPdis } = spdm.opaque;
  if (kind === "gpu") return pdis === undefined ? undefined : { switchPdis: pdis.map(switchPdiHex) };
  if (pdis === undefined && switchGpuPdis === undefined) return undefined;
  const own = pdis?.length === 1 && pdis[0] !== undefined ? devicePdiHex(pdis[0]) : undefined;
  return {
    ...(own === undefined ? {} : { pdi: own }),
    ...(switchGpuPdis === undefined ? {} : { gpuPdis: switchGpuPdis.map(devicePdiHex) }),
  };
}

/** Appraisal and revocation of authentic evidence; a failing hook leaves its status "unchecked" with an error. */
async function runHooks(
  hooks: { measurements: GpuMeasurementAppraiser; revocation: GpuRevocationChecker },
  evidence: AuthenticGpuEvidence,
  { now, context }: { now: Date; context: GpuAppraisalContext },
  result: LocalGpuResult,
): Promise<void> {
  let rimChains: NonNullable<MeasurementAppraisal["rimChains"]> = [];
  try {
    const appraisal = await hooks.measurements.appraise(evidence, now, context);
    result.measurements = appraisal.measurements;
    result.errors.push(...appraisal.errors);
    rimChains = appraisal.rimChains ?? [];
    if (appraisal.compared !== undefined) result.rim = appraisal.compared;
  } catch (error) {
    result.errors.push(toVerificationError(error));
  }
  try {
    const check = await hooks.revocation.check(evidence, now, { ...context, rimChains });
    result.revocation = check.revocation;
    result.errors.push(...check.errors);
  } catch (error) {
    result.errors.push(toVerificationError(error));
  }
}

/** The same device (by its device identity certificate) twice in one bundle: the later entry is an error. */
function markDuplicates(verified: readonly Verified[]): void {
  const firstIndex = new Map<string, number>();
  for (const { result, device } of verified) {
    if (device === undefined) continue;
    const first = firstIndex.get(device.deviceIdentity);
    if (first === undefined) {
      firstIndex.set(device.deviceIdentity, result.index);
    } else {
      result.errors.push({
        code: "DuplicateGpu",
        message: `gpus[${result.index}] is the same device (device identity ${device.deviceIdentity.slice(0, 16)}…, ueid ${device.ueid}) as gpus[${first}]`,
      });
    }
  }
}

function validNow(now: unknown, fallback: (() => Date) | undefined): Date {
  if (now === undefined) return fallback?.() ?? new Date();
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) {
    throw new EvidenceError("EvidenceMalformed", "the verification time is not a valid date");
  }
  return now;
}

const LOCAL_DEFAULT_SOURCES: GpuVerificationSources = { mode: "local", allowCertificateHold: false };

export function createLocalGpuVerifier(config: LocalGpuVerifierConfig = {}): LocalGpuVerifier {
  const chains = new DeviceChainVerifier(config.anchors ?? PINNED_NVIDIA_ANCHORS, config.chainCacheEntries);
  const client = config.client === undefined ? {} : { client: config.client };
  const rimCache =
    config.rimCache === undefined
      ? {}
      : { cacheDir: config.rimCache.dir, onCacheProblem: config.rimCache.onProblem };
  const rimAppraiser =
    config.measurements === undefined ? createRimAppraiser({ ...client, ...rimCache }) : undefined;
  const hooks = {
    measurements: config.measurements ?? rimAppraiser ?? MEASUREMENTS_UNCHECKED,
    revocation: config.revocation ?? createOcspRevocationChecker(client),
  };
  const remote = config.remote ?? createNrasAppraiser(client);
  const remoteHooks = { measurements: MEASUREMENTS_UNCHECKED, revocation: REVOCATION_UNCHECKED };
  return {
    chains,
    ...(rimAppraiser === undefined ? {} : { rims: rimAppraiser.rims }),
    async verify(gpus, options) {
      const verified: Verified[] = [];
      const sources = options.sources ?? LOCAL_DEFAULT_SOURCES;
      const remoteMode = config.alwaysRemote === true || sources.mode === "remote";
      for (const [index, entry] of gpus.entries()) {
        try {
          const now = validNow(options.now, config.now);
          const expectedNonce = options.expectedNonce;
          verified.push(
            await verifyOne(chains, remoteMode ? remoteHooks : hooks, index, entry, {
              now,
              context: { sources },
              ...(expectedNonce === undefined ? {} : { expectedNonce }),
            }),
          );
        } catch (error) {
          verified.push({ result: failedResult(index, error) });
        }
      }
      markDuplicates(verified);
      const results = verified.map((v) => v.result);
      if (remoteMode) {
        const nonce = options.expectedNonce;
        try {
          await remote.appraise(gpus, results, {
            now: validNow(options.now, config.now),
            sources,
            ...(nonce === undefined ? {} : { nonce: Buffer.from(nonce).toString("hex") }),
          });
        } catch (error) {
          for (const result of results) result.errors.push(toVerificationError(error));
        }
      }
      return results;
    },
  };
}

/** The production verifier, anchored only in the pinned NVIDIA Device Identity CA. */
export const localGpuVerifier: LocalGpuVerifier = createLocalGpuVerifier();
