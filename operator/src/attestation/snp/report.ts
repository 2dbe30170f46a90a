/**
 * Parser of the SEV-SNP ATTESTATION_REPORT (AMD SEV-SNP ABI spec, 1184 bytes), versions 2, 3 and 5.
 * Only layout is checked here; signatures and endorsements are checked by the verifier.
 */
import { EvidenceError } from "../types.ts";
import {
  decodeGuestPolicy,
  decodePlatformInfo,
  u64Hex,
  type GuestPolicy,
  type PlatformInfo,
} from "./policy-bits.ts";
import { decodeTcbVersion, productFromCpuId, type CpuId, type SnpProduct, type TcbVersion } from "./tcb.ts";

export const REPORT_SIZE = 1184;
/** The signature covers bytes 0x000..0x29F. */
export const SIGNED_LENGTH = 0x2a0;
export const SUPPORTED_VERSIONS: readonly number[] = [2, 3, 5];
/** SIGNATURE_ALGO 1: ECDSA P-384 with SHA-384. */
export const SIG_ALGO_ECDSA_P384_SHA384 = 1;

const OFFSET = {
  version: 0x00,
  guestSvn: 0x04,
  policy: 0x08,
  familyId: 0x10,
  imageId: 0x20,
  vmpl: 0x30,
  signatureAlgorithm: 0x34,
  currentTcb: 0x38,
  platformInfo: 0x40,
  flags: 0x48,
  reportData: 0x50,
  measurement: 0x90,
  hostData: 0xc0,
  idKeyDigest: 0xe0,
  authorKeyDigest: 0x110,
  reportId: 0x140,
  reportIdMa: 0x160,
  reportedTcb: 0x180,
  cpuidFamily: 0x188,
  cpuidModel: 0x189,
  cpuidStepping: 0x18a,
  chipId: 0x1a0,
  committedTcb: 0x1e0,
  currentVersion: 0x1e8,
  committedVersion: 0x1ec,
  launchTcb: 0x1f0,
  launchMitVector: 0x1f8,
  currentMitVector: 0x200,
  signatureR: 0x2a0,
  signatureS: 0x2e8,
  signatureReserved: 0x330,
} as const;

/** R and S are 72-byte little-endian fields of which only the low 48 bytes (P-384) may be non-zero. */
const SIG_COMPONENT_SIZE = 72;
const P384_SIZE = 48;

export type SigningKey = "vcek" | "vlek" | "none";
const SIGNING_KEYS: Readonly<Record<number, SigningKey>> = { 0: "vcek", 1: "vlek", 7: "none" };

export interface FirmwareVersion {
  major: number;
  minor: number;
  build: number;
}

export interface SnpReport {
  /** A private copy of the 1184 report bytes. */
  bytes: Uint8Array;
  version: number;
  guestSvn: number;
  policy: GuestPolicy;
  familyId: Uint8Array;
  imageId: Uint8Array;
  vmpl: number;
  signatureAlgorithm: number;
  currentTcb: TcbVersion;
  platformInfo: PlatformInfo;
  authorKeyEn: boolean;
  maskChipKey: boolean;
  signingKey: SigningKey;
  reportData: Uint8Array;
  measurement: Uint8Array;
  hostData: Uint8Array;
  idKeyDigest: Uint8Array;
  authorKeyDigest: Uint8Array;
  reportId: Uint8Array;
  reportIdMa: Uint8Array;
  reportedTcb: TcbVersion;
  /** Present from version 3. */
  cpuId?: CpuId;
  /** Product line from CPUID (version 3+); undefined for version 2 or unknown CPUs. */
  product?: SnpProduct;
  /** Whether TCB_VERSION fields use the Turin layout (FMC in byte 0). */
  turinTcbLayout: boolean;
  chipId: Uint8Array;
  committedTcb: TcbVersion;
  currentVersion: FirmwareVersion;
  committedVersion: FirmwareVersion;
  launchTcb: TcbVersion;
  /** Version 5: launch and current mitigation vectors (u64, hex). */
  launchMitVector?: string;
  currentMitVector?: string;
  /** Big-endian 48-byte R and S, ready for an IEEE P1363 signature. */
  signature: { r: Uint8Array; s: Uint8Array };
}

function malformed(message: string): EvidenceError {
  return new EvidenceError("EvidenceMalformed", `SEV-SNP report: ${message}`);
}

function allZero(bytes: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (bytes[i] !== 0) return false;
  return true;
}

function littleEndianComponent(bytes: Uint8Array, offset: number, name: string): Uint8Array {
  if (!allZero(bytes, offset + P384_SIZE, offset + SIG_COMPONENT_SIZE)) {
    throw malformed(`signature ${name} exceeds 384 bits`);
  }
  return bytes.slice(offset, offset + P384_SIZE).reverse();
}

function firmwareVersion(bytes: Uint8Array, offset: number): FirmwareVersion {
  return { build: bytes[offset] ?? 0, minor: bytes[offset + 1] ?? 0, major: bytes[offset + 2] ?? 0 };
}

export function parseSnpReport(input: Uint8Array): SnpReport {
  if (input.length !== REPORT_SIZE) {
    throw malformed(`expected ${REPORT_SIZE} bytes, got ${input.length}`);
  }
  const bytes = Uint8Array.from(input);
  const view = new DataView(bytes.buffer);
  const u32 = (offset: number): number => view.getUint32(offset, true);
  const field = (offset: number, length: number): Uint8Array => bytes.subarray(offset, offset + length);

  const version = u32(OFFSET.version);
  if (!SUPPORTED_VERSIONS.includes(version)) throw malformed(`unsupported version ${version}`);

  const flags = u32(OFFSET.flags);
  const signingKey = SIGNING_KEYS[(flags >>> 2) & 0x7];
  if (signingKey === undefined) throw malformed(`reserved SIGNING_KEY value ${(flags >>> 2) & 0x7}`);
  const signatureAlgorithm = u32(OFFSET.signatureAlgorithm);
  if (signingKey !== "none" && signatureAlgorithm !== SIG_ALGO_ECDSA_P384_SHA384) {
    throw malformed(`unsupported signature algorithm ${signatureAlgorithm}`);
  }
  const vmpl = u32(OFFSET.vmpl);
  if (vmpl > 3) throw malformed(`VMPL ${vmpl} out of range`);
  if (!allZero(bytes, OFFSET.signatureReserved, REPORT_SIZE)) {
    throw malformed("reserved bytes after the signature are not zero");
  }

  const cpuId =
    version >= 3
      ? {
          family: bytes[OFFSET.cpuidFamily] ?? 0,
          model: bytes[OFFSET.cpuidModel] ?? 0,
          stepping: bytes[OFFSET.cpuidStepping] ?? 0,
        }
      : undefined;
  const product = cpuId === undefined ? undefined : productFromCpuId(cpuId);
  const turinTcbLayout = cpuId?.family === 0x1a;
  const tcb = (offset: number): TcbVersion => decodeTcbVersion(bytes, offset, turinTcbLayout);
  const u64HexAt = (offset: number): string => u64Hex(u32(offset), u32(offset + 4));

  return {
    bytes,
    version,
    guestSvn: u32(OFFSET.guestSvn),
    policy: decodeGuestPolicy(u32(OFFSET.policy), u32(OFFSET.policy + 4)),
    familyId: field(OFFSET.familyId, 16),
    imageId: field(OFFSET.imageId, 16),
    vmpl,
    signatureAlgorithm,
    currentTcb: tcb(OFFSET.currentTcb),
    platformInfo: decodePlatformInfo(u32(OFFSET.platformInfo), u32(OFFSET.platformInfo + 4)),
    authorKeyEn: (flags & 1) === 1,
    maskChipKey: ((flags >>> 1) & 1) === 1,
    signingKey,
    reportData: field(OFFSET.reportData, 64),
    measurement: field(OFFSET.measurement, 48),
    hostData: field(OFFSET.hostData, 32),
    idKeyDigest: field(OFFSET.idKeyDigest, 48),
    authorKeyDigest: field(OFFSET.authorKeyDigest, 48),
    reportId: field(OFFSET.reportId, 32),
    reportIdMa: field(OFFSET.reportIdMa, 32),
    reportedTcb: tcb(OFFSET.reportedTcb),
    ...(cpuId === undefined ? {} : { cpuId }),
    ...(product === undefined ? {} : { product }),
    turinTcbLayout,
    chipId: field(OFFSET.chipId, 64),
    committedTcb: tcb(OFFSET.committedTcb),
    currentVersion: firmwareVersion(bytes, OFFSET.currentVersion),
    committedVersion: firmwareVersion(bytes, OFFSET.committedVersion),
    launchTcb: tcb(OFFSET.launchTcb),
    ...(version >= 5
      ? {
          launchMitVector: u64HexAt(OFFSET.launchMitVector),
          currentMitVector: u64HexAt(OFFSET.currentMitVector),
        }
      : {}),
    signature: {
      r: littleEndianComponent(bytes, OFFSET.signatureR, "R"),
      s: littleEndianComponent(bytes, OFFSET.signatureS, "S"),
    },
  };
}

/** The bytes covered by the report signature. */
export function signedRegion(report: SnpReport): Uint8Array {
  return report.bytes.subarray(0, SIGNED_LENGTH);
}

/** REPORTED_TCB decoded with a chosen layout (when the product is known only from elsewhere). */
export function reportedTcbWithLayout(report: SnpReport, turinLayout: boolean): TcbVersion {
  return decodeTcbVersion(report.bytes, OFFSET.reportedTcb, turinLayout);
}

/** CHIP_ID is all zeros when the host masks it (MASK_CHIP_ID), as on VLEK-signed cloud reports. */
export function isChipIdMasked(report: SnpReport): boolean {
  return allZero(report.chipId, 0, report.chipId.length);
}
