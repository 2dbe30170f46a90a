/**
 * NVML's confidential-computing structs (nvml.h, R535+), laid out by hand so that FFI passes plain buffers and the
 * decoding can be tested with fixed bytes. All fields are `unsigned int` (u32, little-endian on x86-64 and arm64)
 * followed by byte arrays, so there is no padding.
 *
 *   nvmlConfComputeGpuAttestationReport_t { u32 isCecAttestationReportPresent, attestationReportSize,
 *     cecAttestationReportSize; u8 nonce[0x20]; u8 attestationReport[0x2000]; u8 cecAttestationReport[0x1000] }
 *   nvmlConfComputeGpuCertificate_t { u32 certChainSize, attestationCertChainSize; u8 certChain[0x1000];
 *     u8 attestationCertChain[0x1400] }
 */
import { derToPem, parsePemCertificates } from "../../../../operator/src/crypto/pem.ts";

export const NONCE_SIZE = 0x20;
export const ATTESTATION_REPORT_SIZE = 0x2000;
export const CEC_ATTESTATION_REPORT_SIZE = 0x1000;
export const CERT_CHAIN_SIZE = 0x1000;
export const ATTESTATION_CERT_CHAIN_SIZE = 0x1400;

const REPORT_NONCE_OFFSET = 12;
const REPORT_OFFSET = REPORT_NONCE_OFFSET + NONCE_SIZE;
const CEC_REPORT_OFFSET = REPORT_OFFSET + ATTESTATION_REPORT_SIZE;
export const ATTESTATION_REPORT_STRUCT_SIZE = CEC_REPORT_OFFSET + CEC_ATTESTATION_REPORT_SIZE;

const CERT_CHAIN_OFFSET = 8;
const ATTESTATION_CERT_CHAIN_OFFSET = CERT_CHAIN_OFFSET + CERT_CHAIN_SIZE;
export const GPU_CERTIFICATE_STRUCT_SIZE = ATTESTATION_CERT_CHAIN_OFFSET + ATTESTATION_CERT_CHAIN_SIZE;

/** NVML_DEVICE_ARCH_*: only these can attest. */
export const DEVICE_ARCHITECTURES: Readonly<Record<number, "HOPPER" | "BLACKWELL">> = {
  9: "HOPPER",
  10: "BLACKWELL",
};

const view = (bytes: Uint8Array): DataView => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

function sized(bytes: Uint8Array, offset: number, size: number, capacity: number, what: string): Uint8Array {
  if (size > capacity) throw new Error(`NVML ${what} size ${size} exceeds its ${capacity}-byte field`);
  return bytes.slice(offset, offset + size);
}

/** A zeroed attestation-report struct with the caller's nonce, the one input field. */
export function attestationReportRequest(nonce: Uint8Array): Uint8Array {
  if (nonce.length !== NONCE_SIZE)
    throw new Error(`the GPU nonce must be ${NONCE_SIZE} bytes, not ${nonce.length}`);
  const bytes = new Uint8Array(ATTESTATION_REPORT_STRUCT_SIZE);
  bytes.set(nonce, REPORT_NONCE_OFFSET);
  return bytes;
}

export interface GpuAttestationReport {
  nonce: Uint8Array;
  /** SPDM GET_MEASUREMENTS request ‖ response: the bundle's `gpus[].evidence`. */
  report: Uint8Array;
  cecReport?: Uint8Array;
}

export function decodeAttestationReport(bytes: Uint8Array): GpuAttestationReport {
  if (bytes.length !== ATTESTATION_REPORT_STRUCT_SIZE)
    throw new Error(
      `NVML attestation report struct is ${bytes.length} bytes, not ${ATTESTATION_REPORT_STRUCT_SIZE}`,
    );
  const fields = view(bytes);
  const cecPresent = fields.getUint32(0, true) !== 0;
  const reportSize = fields.getUint32(4, true);
  const cecSize = fields.getUint32(8, true);
  if (reportSize === 0) throw new Error("NVML returned an empty attestation report");
  return {
    nonce: bytes.slice(REPORT_NONCE_OFFSET, REPORT_OFFSET),
    report: sized(bytes, REPORT_OFFSET, reportSize, ATTESTATION_REPORT_SIZE, "attestation report"),
    ...(cecPresent
      ? {
          cecReport: sized(
            bytes,
            CEC_REPORT_OFFSET,
            cecSize,
            CEC_ATTESTATION_REPORT_SIZE,
            "CEC attestation report",
          ),
        }
      : {}),
  };
}

export interface GpuCertificates {
  certChain: Uint8Array;
  /** The chain of the key that signs the attestation report (leaf first). */
  attestationCertChain: Uint8Array;
}

export function decodeGpuCertificate(bytes: Uint8Array): GpuCertificates {
  if (bytes.length !== GPU_CERTIFICATE_STRUCT_SIZE)
    throw new Error(`NVML certificate struct is ${bytes.length} bytes, not ${GPU_CERTIFICATE_STRUCT_SIZE}`);
  const fields = view(bytes);
  return {
    certChain: sized(
      bytes,
      CERT_CHAIN_OFFSET,
      fields.getUint32(0, true),
      CERT_CHAIN_SIZE,
      "certificate chain",
    ),
    attestationCertChain: sized(
      bytes,
      ATTESTATION_CERT_CHAIN_OFFSET,
      fields.getUint32(4, true),
      ATTESTATION_CERT_CHAIN_SIZE,
      "attestation certificate chain",
    ),
  };
}

/** Splits concatenated DER certificates by their outer SEQUENCE lengths. */
function splitDer(bytes: Uint8Array): Uint8Array[] {
  const certificates: Uint8Array[] = [];
  let at = 0;
  while (at < bytes.length && bytes[at] !== 0) {
    if (bytes[at] !== 0x30) throw new Error(`GPU certificate chain: no DER SEQUENCE at byte ${at}`);
    const first = bytes[at + 1] ?? 0;
    let length = first;
    let header = 2;
    if (first & 0x80) {
      const count = first & 0x7f;
      if (count === 0 || count > 3) throw new Error(`GPU certificate chain: bad DER length at byte ${at}`);
      length = 0;
      for (let i = 0; i < count; i++) length = length * 256 + (bytes[at + 2 + i] ?? 0);
      header += count;
    }
    const end = at + header + length;
    if (end > bytes.length) throw new Error(`GPU certificate chain: certificate at byte ${at} is truncated`);
    certificates.push(bytes.slice(at, end));
    at = end;
  }
  if (certificates.length === 0) throw new Error("GPU certificate chain is empty");
  return certificates;
}

/** The chain as PEM (leaf first), whether the driver returned PEM text or concatenated DER. */
export function certificateChainPem(bytes: Uint8Array): string {
  const text = Buffer.from(bytes).toString("latin1");
  const ders = text.includes("-----BEGIN CERTIFICATE-----")
    ? parsePemCertificates(text, "GPU certificate chain", { ignoreTextOutsideBlocks: true })
    : splitDer(bytes);
  return ders.map((der) => derToPem(der)).join("");
}

/** A NUL-terminated C string from a fixed buffer. */
export function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return Buffer.from(bytes.subarray(0, end === -1 ? bytes.length : end)).toString("latin1");
}
