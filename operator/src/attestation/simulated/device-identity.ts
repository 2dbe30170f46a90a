/**
 * Identities of simulated devices, derived from names so that every simulated chip and GPU is distinct and the
 * same name (the same "physical" device) always has the same identity, in every process.
 */
import { createHash } from "node:crypto";

const digest = (algorithm: string, label: string, name: string): Uint8Array =>
  new Uint8Array(createHash(algorithm).update(`trustgate simulated ${label}\0${name}`).digest());

/** The SEV-SNP CHIP_ID (64 bytes) of a simulated machine. */
export function simulatedChipId(machine: string): Uint8Array {
  return digest("sha512", "chip", machine);
}

/** The serial number of a simulated GPU's attestation leaf certificate (its NRAS `ueid`). */
export function simulatedGpuSerial(device: string): Uint8Array {
  const serial = digest("sha256", "gpu", device).subarray(0, 16);
  serial[0] = (serial[0] ?? 0) | 0x01; // never a leading zero byte, which DER would have to strip
  return serial;
}

/** A simulated 48-byte digest (measurement, FWID) named by what it stands for. */
export function simulatedDigest(what: string): Uint8Array {
  return digest("sha384", "digest", what);
}

/** A simulated device's PDI (platform device identifier, 8 bytes), as an NVSwitch reports it. */
export function simulatedPdi(device: string): Uint8Array {
  return digest("sha256", "pdi", device).subarray(0, 8);
}
