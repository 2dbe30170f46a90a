/**
 * Bit fields of the SEV-SNP report: guest POLICY and PLATFORM_INFO (AMD SEV-SNP ABI spec).
 * All defined bits sit in the low 32 bits of these u64 fields; `raw` keeps the whole value.
 */

export interface GuestPolicy {
  raw: string;
  abiMinor: number;
  abiMajor: number;
  smt: boolean;
  /** Bit 17 is reserved and must be one on every guest. */
  reservedOne: boolean;
  migrateMa: boolean;
  debug: boolean;
  singleSocket: boolean;
  cxlAllow: boolean;
  memAes256Xts: boolean;
  raplDis: boolean;
  ciphertextHiding: boolean;
  pageSwapDisable: boolean;
}

export interface PlatformInfo {
  raw: string;
  smtEnabled: boolean;
  tsmeEnabled: boolean;
  eccEnabled: boolean;
  raplDisabled: boolean;
  ciphertextHidingEnabled: boolean;
  aliasCheckComplete: boolean;
  iommuWriteSafe: boolean;
  tioEnabled: boolean;
}

const bit = (value: number, n: number): boolean => ((value >>> n) & 1) === 1;

export function u64Hex(low: number, high: number): string {
  return high.toString(16).padStart(8, "0") + low.toString(16).padStart(8, "0");
}

export function decodeGuestPolicy(low: number, high: number): GuestPolicy {
  return {
    raw: u64Hex(low, high),
    abiMinor: low & 0xff,
    abiMajor: (low >>> 8) & 0xff,
    smt: bit(low, 16),
    reservedOne: bit(low, 17),
    migrateMa: bit(low, 18),
    debug: bit(low, 19),
    singleSocket: bit(low, 20),
    cxlAllow: bit(low, 21),
    memAes256Xts: bit(low, 22),
    raplDis: bit(low, 23),
    ciphertextHiding: bit(low, 24),
    pageSwapDisable: bit(low, 25),
  };
}

export function decodePlatformInfo(low: number, high: number): PlatformInfo {
  return {
    raw: u64Hex(low, high),
    smtEnabled: bit(low, 0),
    tsmeEnabled: bit(low, 1),
    eccEnabled: bit(low, 2),
    raplDisabled: bit(low, 3),
    ciphertextHidingEnabled: bit(low, 4),
    aliasCheckComplete: bit(low, 5),
    iommuWriteSafe: bit(low, 6),
    tioEnabled: bit(low, 7),
  };
}
