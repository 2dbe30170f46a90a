/**
 * Intel TDX DCAP quote parser (quote v4 and v5; TDX 1.0 and 1.5 TD report bodies).
 * Layout: Intel TDX DCAP Quote Generation Library and Quote Verification API spec (quote format appendix).
 * Every length comes from the quote itself; bytes after the declared end (padding) are ignored.
 */
import { EvidenceError } from "../types.ts";
import { ByteReader } from "../../encoding/byte-reader.ts";
import { toHex as hex } from "./hex.ts";

export const TEE_TYPE_SGX = 0x00000000;
export const TEE_TYPE_TDX = 0x00000081;
export const ATTESTATION_KEY_ECDSA_P256 = 2;
export const INTEL_QE_VENDOR_ID = "939a7233f79c4ca9940a0db3957f0607";
const INTEL_QE_VENDOR_ID_BYTES = Buffer.from(INTEL_QE_VENDOR_ID, "hex");
const HEADER_SIZE = 48;
const TD_REPORT_10_SIZE = 584;
const TD_REPORT_15_SIZE = 648;
const SGX_REPORT_SIZE = 384;
const BODY_TYPE_SGX = 1;
const BODY_TYPE_TD_REPORT_10 = 2;
const BODY_TYPE_TD_REPORT_15 = 3;
export const CERT_DATA_PCK_CHAIN = 5;
export const CERT_DATA_QE_REPORT = 6;

export interface QuoteHeader {
  version: 4 | 5;
  attestationKeyType: number;
  teeType: number;
  qeSvn: number;
  pceSvn: number;
  qeVendorId: Uint8Array;
  userData: Uint8Array;
}

export interface TdReportBody {
  teeTcbSvn: Uint8Array;
  mrSeam: Uint8Array;
  mrSignerSeam: Uint8Array;
  seamAttributes: Uint8Array;
  tdAttributes: Uint8Array;
  xfam: Uint8Array;
  mrTd: Uint8Array;
  mrConfigId: Uint8Array;
  mrOwner: Uint8Array;
  mrOwnerConfig: Uint8Array;
  rtmrs: [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  reportData: Uint8Array;
  /** TDX 1.5 bodies only. */
  teeTcbSvn2?: Uint8Array;
  mrServiceTd?: Uint8Array;
}

/** The QE's SGX enclave report (384 bytes). */
export interface SgxReportBody {
  raw: Uint8Array;
  cpuSvn: Uint8Array;
  miscSelect: number;
  attributes: Uint8Array;
  mrEnclave: Uint8Array;
  mrSigner: Uint8Array;
  isvProdId: number;
  isvSvn: number;
  reportData: Uint8Array;
}

export interface TdxQuote {
  header: QuoteHeader;
  bodyType: "tdx10" | "tdx15";
  body: TdReportBody;
  /** Header and body: what the attestation key signs. */
  signedRegion: Uint8Array;
  /** ECDSA P-256 r||s over `signedRegion`. */
  signature: Uint8Array;
  /** Raw P-256 public key X||Y. */
  attestationKey: Uint8Array;
  qeReport: SgxReportBody;
  /** ECDSA P-256 r||s over `qeReport.raw`, by the PCK leaf key. */
  qeReportSignature: Uint8Array;
  qeAuthData: Uint8Array;
  /** PEM PCK leaf → intermediate → root, trailing NULs removed. */
  pckCertChain: Uint8Array;
  /** Declared end of the quote; bytes beyond it are padding. */
  size: number;
}

function malformed(message: string): EvidenceError {
  return new EvidenceError("EvidenceMalformed", message);
}

function parseHeader(reader: ByteReader): QuoteHeader {
  if (reader.remaining < HEADER_SIZE) {
    throw malformed(`quote of ${reader.remaining} bytes has no 48-byte header`);
  }
  const version = reader.u16("version");
  const attestationKeyType = reader.u16("attestation key type");
  const teeType = reader.u32("TEE type");
  if (version < 3 || version > 5) throw malformed(`not a DCAP quote: version ${version}`);
  if (teeType === TEE_TYPE_SGX) {
    throw new EvidenceError(
      "UnsupportedTee",
      `SGX quote (version ${version}, TEE type 0); only TDX is accepted`,
    );
  }
  if (teeType !== TEE_TYPE_TDX) {
    throw new EvidenceError("UnsupportedTee", `unknown TEE type 0x${teeType.toString(16).padStart(8, "0")}`);
  }
  if (version === 3) throw malformed("quote version 3 cannot carry a TDX report");
  if (attestationKeyType !== ATTESTATION_KEY_ECDSA_P256) {
    throw malformed(`attestation key type ${attestationKeyType} is not ECDSA-256-with-P-256`);
  }
  const qeSvn = reader.u16("QE SVN");
  const pceSvn = reader.u16("PCE SVN");
  const qeVendorId = reader.take(16, "QE vendor ID");
  if (!INTEL_QE_VENDOR_ID_BYTES.equals(qeVendorId)) {
    throw new EvidenceError("UnsupportedTee", `QE vendor ${hex(qeVendorId)} is not Intel's quoting enclave`);
  }
  const userData = reader.take(20, "user data");
  return { version: version as 4 | 5, attestationKeyType, teeType, qeSvn, pceSvn, qeVendorId, userData };
}

function parseTdReport(reader: ByteReader, tdx15: boolean): TdReportBody {
  const take = (count: number, what: string): Uint8Array => reader.take(count, what);
  const body: TdReportBody = {
    teeTcbSvn: take(16, "TEE_TCB_SVN"),
    mrSeam: take(48, "MRSEAM"),
    mrSignerSeam: take(48, "MRSIGNERSEAM"),
    seamAttributes: take(8, "SEAMATTRIBUTES"),
    tdAttributes: take(8, "TDATTRIBUTES"),
    xfam: take(8, "XFAM"),
    mrTd: take(48, "MRTD"),
    mrConfigId: take(48, "MRCONFIGID"),
    mrOwner: take(48, "MROWNER"),
    mrOwnerConfig: take(48, "MROWNERCONFIG"),
    rtmrs: [take(48, "RTMR0"), take(48, "RTMR1"), take(48, "RTMR2"), take(48, "RTMR3")],
    reportData: take(64, "REPORTDATA"),
  };
  if (tdx15) {
    body.teeTcbSvn2 = take(16, "TEE_TCB_SVN2");
    body.mrServiceTd = take(48, "MRSERVICETD");
  }
  return body;
}

function parseBody(
  reader: ByteReader,
  version: 4 | 5,
): { bodyType: TdxQuote["bodyType"]; body: TdReportBody } {
  if (version === 4) return { bodyType: "tdx10", body: parseTdReport(reader, false) };
  const type = reader.u16("body type");
  const size = reader.u32("body size");
  if (type === BODY_TYPE_SGX) {
    throw new EvidenceError("UnsupportedTee", "quote v5 carries an SGX enclave report");
  }
  if (type === BODY_TYPE_TD_REPORT_10 && size === TD_REPORT_10_SIZE) {
    return { bodyType: "tdx10", body: parseTdReport(reader, false) };
  }
  if (type === BODY_TYPE_TD_REPORT_15 && size === TD_REPORT_15_SIZE) {
    return { bodyType: "tdx15", body: parseTdReport(reader, true) };
  }
  throw malformed(`quote v5 body type ${type} of ${size} bytes is not a TDX 1.0 or 1.5 report`);
}

export function parseSgxReport(raw: Uint8Array): SgxReportBody {
  const reader = new ByteReader(raw, "quote");
  const cpuSvn = reader.take(16, "QE CPUSVN");
  const miscSelect = reader.u32("QE MISCSELECT");
  reader.take(28, "QE reserved");
  const attributes = reader.take(16, "QE ATTRIBUTES");
  const mrEnclave = reader.take(32, "QE MRENCLAVE");
  reader.take(32, "QE reserved");
  const mrSigner = reader.take(32, "QE MRSIGNER");
  reader.take(96, "QE reserved");
  const isvProdId = reader.u16("QE ISVPRODID");
  const isvSvn = reader.u16("QE ISVSVN");
  reader.take(60, "QE reserved");
  const reportData = reader.take(64, "QE REPORTDATA");
  return { raw, cpuSvn, miscSelect, attributes, mrEnclave, mrSigner, isvProdId, isvSvn, reportData };
}

function stripTrailingNuls(bytes: Uint8Array): Uint8Array {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  return bytes.subarray(0, end);
}

/**
 * Where the part of a quote that repeats across one platform's quotes begins (attestation key, QE report and its
 * signature, QE auth data, PCK chain: everything after the quote signature), from the quote's first 54 bytes; or
 * undefined if they do not say. Only a hint for `QuoteTextDecoder`; the parser checks everything.
 */
export function platformPartStart(head: Uint8Array): number | undefined {
  if (head.length < HEADER_SIZE + 6) return undefined;
  const version = (head[0] ?? 0) | ((head[1] ?? 0) << 8);
  const v5BodySize = new DataView(head.buffer, head.byteOffset + HEADER_SIZE + 2, 4).getUint32(0, true);
  const body = version === 4 ? TD_REPORT_10_SIZE : version === 5 ? 6 + v5BodySize : undefined;
  // After the body: the signature data length (4 bytes) and the quote signature (64).
  return body === undefined ? undefined : HEADER_SIZE + body + 4 + 64;
}

/** Parses a TDX quote; throws EvidenceError (`EvidenceMalformed` or `UnsupportedTee`) and nothing else. */
export function parseTdxQuote(bytes: Uint8Array): TdxQuote {
  const reader = new ByteReader(bytes, "quote");
  const header = parseHeader(reader);
  const { bodyType, body } = parseBody(reader, header.version);
  const signedRegion = bytes.subarray(0, reader.offset);

  const signatureDataLength = reader.u32("signature data length");
  const signatureData = new ByteReader(reader.take(signatureDataLength, "signature data"), "quote");
  const signature = signatureData.take(64, "quote signature");
  const attestationKey = signatureData.take(64, "attestation key");
  const certType = signatureData.u16("certification data type");
  const certSize = signatureData.u32("certification data size");
  if (certType !== CERT_DATA_QE_REPORT) {
    throw malformed(`certification data type ${certType} is not 6 (QE report certification data)`);
  }
  if (certSize !== signatureData.remaining) {
    throw malformed(
      `certification data size ${certSize} != ${signatureData.remaining} bytes of signature data left`,
    );
  }
  const qeReport = parseSgxReport(signatureData.take(SGX_REPORT_SIZE, "QE report"));
  const qeReportSignature = signatureData.take(64, "QE report signature");
  const qeAuthData = signatureData.take(signatureData.u16("QE auth data length"), "QE auth data");
  const innerType = signatureData.u16("PCK certification data type");
  const innerSize = signatureData.u32("PCK certification data size");
  if (innerType !== CERT_DATA_PCK_CHAIN) {
    throw malformed(`QE certification data type ${innerType} is not 5 (PCK certificate chain)`);
  }
  if (innerSize !== signatureData.remaining) {
    throw malformed(`PCK certificate chain size ${innerSize} != ${signatureData.remaining} bytes left`);
  }
  const pckCertChain = stripTrailingNuls(signatureData.take(innerSize, "PCK certificate chain"));
  return {
    header,
    bodyType,
    body,
    signedRegion,
    signature,
    attestationKey,
    qeReport,
    qeReportSignature,
    qeAuthData,
    pckCertChain,
    size: reader.offset,
  };
}
