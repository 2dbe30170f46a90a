/**
 * VCEKs of simulated chips, the same in every process that holds the simulated ASK key: the key is derived from the
 * ASK's private key, the chip's CHIP_ID and the TCB (HKDF, derived-keys.ts), and the certificate has a fixed serial
 * and validity. So the simulated SNP TEE signs with the key whose certificate the simulated KDS serves, with no
 * state shared between them, as a real chip and AMD's KDS agree.
 */
import { createHash, webcrypto } from "node:crypto";
import { BoundedMap } from "../bounded-map.ts";
import { issueAmdLeaf, type AmdCa, type AmdLeaf } from "./amd-pki.ts";
import { deriveEcPrivateKey } from "./derived-keys.ts";
import type { TcbSpec } from "./snp-report.ts";

/**
 * Where a simulated PKI directory keeps VCEKs issued ahead of time (DER, `<chip id hex>-<tcb label>.der`), as AMD's
 * KDS serves certificates AMD issued: the simulated KDS answers from there first.
 */
export const PREISSUED_VCEK_DIR = "amd/vceks";

/** The file name of a pre-issued VCEK. */
export function preissuedVcekFile(chipId: Uint8Array, tcb: TcbSpec): string {
  return `${Buffer.from(chipId).toString("hex")}-${tcbLabel(tcb)}.der`;
}

const seeds = new WeakMap<webcrypto.CryptoKey, Promise<Buffer>>();
const issued = new WeakMap<AmdCa, BoundedMap<string, Promise<AmdLeaf>>>();

async function exportSeed(askKey: webcrypto.CryptoKey): Promise<Buffer> {
  let pkcs8: ArrayBuffer;
  try {
    pkcs8 = await webcrypto.subtle.exportKey("pkcs8", askKey);
  } catch (error) {
    throw new Error(
      "the simulated ASK key is not extractable, so simulated VCEKs cannot be derived from it (use generateSimPki or loadSimPki)",
      { cause: error },
    );
  }
  return createHash("sha384").update(Buffer.from(pkcs8)).digest();
}

function seedOf(ca: AmdCa): Promise<Buffer> {
  let seed = seeds.get(ca.intermediateKey);
  if (seed === undefined) {
    seed = exportSeed(ca.intermediateKey);
    seeds.set(ca.intermediateKey, seed);
  }
  return seed;
}

export function tcbLabel(tcb: TcbSpec): string {
  return `bl=${tcb.bootloader},tee=${tcb.tee},snp=${tcb.snp},ucode=${tcb.microcode},fmc=${tcb.fmc ?? "-"}`;
}

async function issueVcek(ca: AmdCa, chipId: Uint8Array, tcb: TcbSpec): Promise<AmdLeaf> {
  const label = `VCEK\0${ca.product}\0${Buffer.from(chipId).toString("hex")}\0${tcbLabel(tcb)}`;
  const leafKey = deriveEcPrivateKey("P-384", await seedOf(ca), label);
  return issueAmdLeaf(ca, { spl: { ...tcb }, hwId: chipId, leafKey });
}

/** The VCEK of a simulated chip (its CHIP_ID, 64 bytes) at a TCB, issued by the simulated ASK. */
export function simulatedVcek(ca: AmdCa, chipId: Uint8Array, tcb: TcbSpec): Promise<AmdLeaf> {
  if (chipId.length !== 64) throw new Error(`CHIP_ID must be 64 bytes, not ${chipId.length}`);
  let byChip = issued.get(ca);
  if (byChip === undefined) {
    // A benchmark's thousand hosts each keep theirs (a certificate and key are a few kB).
    byChip = new BoundedMap(4096);
    issued.set(ca, byChip);
  }
  const key = `${Buffer.from(chipId).toString("hex")}\0${tcbLabel(tcb)}`;
  let vcek = byChip.get(key);
  if (vcek === undefined) {
    vcek = issueVcek(ca, chipId, tcb);
    byChip.set(key, vcek);
    void vcek.catch(() => byChip.delete(key));
  }
  return vcek;
}
