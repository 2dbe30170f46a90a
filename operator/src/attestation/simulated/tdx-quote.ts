/**
 * Builds and signs TDX quotes (version 4, TD 1.0 report body) in the real layout (Intel TDX DCAP Quote Generation
 * Library, quote format appendix), for the simulated TDX TEE and for tests: the attestation key signs header and
 * body; the QE report binds that key and is signed by the PCK leaf; certification data type 6 wraps the QE report,
 * its signature, the QE auth data and type 5, the PCK chain (PEM). The real parser and verifier check it unchanged.
 */
import { createHash, sign, type KeyObject } from "node:crypto";
import {
  ATTESTATION_KEY_ECDSA_P256,
  CERT_DATA_PCK_CHAIN,
  CERT_DATA_QE_REPORT,
  INTEL_QE_VENDOR_ID,
  TEE_TYPE_TDX,
  type SgxReportBody,
  type TdReportBody,
} from "../tdx/quote.ts";

const QE_REPORT_DATA_OFFSET = 320;

/** A TD 1.0 report body (no TEE_TCB_SVN2 / MRSERVICETD). */
export type TdReport10 = Omit<TdReportBody, "teeTcbSvn2" | "mrServiceTd">;

/** The QE report's fields other than its raw bytes and REPORTDATA (which binds the attestation key). */
export type QeReportSpec = Omit<SgxReportBody, "raw" | "reportData">;

const u16 = (value: number): Buffer => {
  const bytes = Buffer.alloc(2);
  bytes.writeUInt16LE(value);
  return bytes;
};
const u32 = (value: number): Buffer => {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32LE(value);
  return bytes;
};

function sized(bytes: Uint8Array, length: number, what: string): Buffer {
  if (bytes.length !== length) throw new Error(`${what} must be ${length} bytes, not ${bytes.length}`);
  return Buffer.from(bytes);
}

/** The 48-byte quote v4 header of a TDX quote from Intel's QE, attestation key ECDSA P-256. */
export function encodeQuoteHeader(header: { qeSvn: number; pceSvn: number; userData: Uint8Array }): Buffer {
  return Buffer.concat([
    u16(4),
    u16(ATTESTATION_KEY_ECDSA_P256),
    u32(TEE_TYPE_TDX),
    u16(header.qeSvn),
    u16(header.pceSvn),
    Buffer.from(INTEL_QE_VENDOR_ID, "hex"),
    sized(header.userData, 20, "user data"),
  ]);
}

/** The 584-byte TD 1.0 report body. */
export function encodeTdReport10(body: TdReport10): Buffer {
  const fields: [Uint8Array, number, string][] = [
    [body.teeTcbSvn, 16, "TEE_TCB_SVN"],
    [body.mrSeam, 48, "MRSEAM"],
    [body.mrSignerSeam, 48, "MRSIGNERSEAM"],
    [body.seamAttributes, 8, "SEAMATTRIBUTES"],
    [body.tdAttributes, 8, "TDATTRIBUTES"],
    [body.xfam, 8, "XFAM"],
    [body.mrTd, 48, "MRTD"],
    [body.mrConfigId, 48, "MRCONFIGID"],
    [body.mrOwner, 48, "MROWNER"],
    [body.mrOwnerConfig, 48, "MROWNERCONFIG"],
    ...body.rtmrs.map((rtmr, index): [Uint8Array, number, string] => [rtmr, 48, `RTMR${index}`]),
    [body.reportData, 64, "REPORTDATA"],
  ];
  return Buffer.concat(fields.map(([bytes, length, what]) => sized(bytes, length, what)));
}

/** The QE's 384-byte SGX report, REPORTDATA still zero (signTdxQuote binds the attestation key into it). */
export function encodeQeReport(report: QeReportSpec): Buffer {
  return Buffer.concat([
    sized(report.cpuSvn, 16, "QE CPUSVN"),
    u32(report.miscSelect),
    Buffer.alloc(28),
    sized(report.attributes, 16, "QE ATTRIBUTES"),
    sized(report.mrEnclave, 32, "QE MRENCLAVE"),
    Buffer.alloc(32),
    sized(report.mrSigner, 32, "QE MRSIGNER"),
    Buffer.alloc(96),
    u16(report.isvProdId),
    u16(report.isvSvn),
    Buffer.alloc(60),
    Buffer.alloc(64),
  ]);
}

const p1363 = (data: Uint8Array, key: KeyObject): Buffer =>
  sign("sha256", data, { key, dsaEncoding: "ieee-p1363" });

/** The raw X||Y of a P-256 public key, as the quote carries the attestation key. */
export function rawP256PublicKey(key: KeyObject): Buffer {
  const jwk = key.export({ format: "jwk" });
  if (jwk.crv !== "P-256" || jwk.x === undefined || jwk.y === undefined)
    throw new Error("the attestation key must be an ECDSA P-256 key");
  return Buffer.concat([Buffer.from(jwk.x, "base64url"), Buffer.from(jwk.y, "base64url")]);
}

export interface QuoteSigning {
  /** Header and body: what the attestation key signs. */
  signedRegion: Uint8Array;
  /** The QE report; its REPORTDATA is overwritten with SHA-256(attestation key ‖ QE auth data) ‖ 32 zero bytes. */
  qeReport: Uint8Array;
  qeAuthData: Uint8Array;
  /** The QE's attestation key (private; P-256). */
  attestationKey: KeyObject;
  /** The PCK leaf's private key, which signs the QE report. */
  pckKey: KeyObject;
  /** PEM, PCK leaf → PCK CA → root. */
  pckChainPem: string;
}

/** The whole quote: `signedRegion`, then the signature data with the QE report certification data. */
export function signTdxQuote(parts: QuoteSigning): Buffer {
  const attestationKey = rawP256PublicKey(parts.attestationKey);
  const qeReport = Buffer.from(sized(parts.qeReport, 384, "QE report"));
  createHash("sha256")
    .update(attestationKey)
    .update(parts.qeAuthData)
    .digest()
    .copy(qeReport, QE_REPORT_DATA_OFFSET);
  qeReport.fill(0, QE_REPORT_DATA_OFFSET + 32);
  const chain = Buffer.from(parts.pckChainPem);
  const qeCertificationData = Buffer.concat([
    qeReport,
    p1363(qeReport, parts.pckKey),
    u16(parts.qeAuthData.length),
    parts.qeAuthData,
    u16(CERT_DATA_PCK_CHAIN),
    u32(chain.length),
    chain,
  ]);
  const signatureData = Buffer.concat([
    p1363(parts.signedRegion, parts.attestationKey),
    attestationKey,
    u16(CERT_DATA_QE_REPORT),
    u32(qeCertificationData.length),
    qeCertificationData,
  ]);
  return Buffer.concat([parts.signedRegion, u32(signatureData.length), signatureData]);
}
