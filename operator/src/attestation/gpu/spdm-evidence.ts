/**
 * NVIDIA GPU/NVSwitch evidence (docs/evidence-bundle.md#bundle, `gpus[].evidence`): an SPDM 1.1 GET_MEASUREMENTS request
 * followed by its MEASUREMENTS response (DMTF DSP0274 1.1). Parsed by declared lengths only; any inconsistency
 * is an `EvidenceMalformed` EvidenceError.
 */
import { EvidenceError } from "../types.ts";
import { ByteReader } from "../../encoding/byte-reader.ts";
import { decodeOpaqueClaims, parseOpaqueFields, type OpaqueClaims, type OpaqueField } from "./opaque-data.ts";

export const SPDM_VERSION_1_1 = 0x11;
const GET_MEASUREMENTS = 0xe0;
const MEASUREMENTS = 0x60;
const SIGNATURE_REQUESTED = 0x01;
const DMTF_SPECIFICATION = 0x01;
const DMTF_HEADER_LENGTH = 3;
export const NONCE_LENGTH = 32;
/** ECDSA P-384 r‖s, big-endian. */
export const SIGNATURE_LENGTH = 96;
/** version, code, param1, param2, nonce, slot id: a request that asks for a signature. */
export const REQUEST_LENGTH = 4 + NONCE_LENGTH + 1;
/**
 * Bytes tolerated after the signature. The collector reports one real sample with a trailing byte; it lies outside
 * the signed region and is ignored. More than one is not a sample quirk but garbage.
 */
export const MAX_TRAILING_BYTES = 1;

export interface SpdmMeasurementRequest {
  version: number;
  param1: number;
  /** Measurement operation: 0xFF = all blocks. */
  param2: number;
  nonce: Uint8Array;
  slotId: number;
}

export interface MeasurementBlock {
  /** 1-based; RIM `Resource index=i` is block i+1. */
  index: number;
  /** DMTFSpecMeasurementValueType: bit 7 set = raw bit stream, else a digest. */
  valueType: number;
  value: Uint8Array;
}

export interface SpdmMeasurementResponse {
  version: number;
  param1: number;
  param2: number;
  blocks: MeasurementBlock[];
  /** Responder-chosen; the freshness check uses the request nonce. */
  nonce: Uint8Array;
  opaqueData: Uint8Array;
  opaqueFields: OpaqueField[];
  signature: Uint8Array;
}

export interface SpdmEvidence {
  request: SpdmMeasurementRequest;
  response: SpdmMeasurementResponse;
  opaque: OpaqueClaims;
  /** Request ‖ response up to the signature: what the device signed. */
  signedBytes: Uint8Array;
  trailingBytes: number;
}

/** GET_MEASUREMENTS Param2 (measurement operation): every measurement block. */
const ALL_MEASUREMENTS = 0xff;

function malformed(message: string): EvidenceError {
  return new EvidenceError("EvidenceMalformed", `SPDM evidence: ${message}`);
}

const hex = (n: number): string => `0x${n.toString(16).padStart(2, "0")}`;

function parseRequest(cursor: ByteReader): SpdmMeasurementRequest {
  const version = cursor.u8("request SPDMVersion");
  const code = cursor.u8("request RequestResponseCode");
  const param1 = cursor.u8("request Param1");
  const param2 = cursor.u8("request Param2");
  if (version !== SPDM_VERSION_1_1) throw malformed(`request SPDM version ${hex(version)} is not 1.1 (0x11)`);
  if (code !== GET_MEASUREMENTS) throw malformed(`request code ${hex(code)} is not GET_MEASUREMENTS (0xe0)`);
  if ((param1 & SIGNATURE_REQUESTED) === 0) throw malformed("the request does not ask for a signature");
  // All measurement blocks (a request for some would let the device, or whoever chose the request, leave some out).
  if (param2 !== ALL_MEASUREMENTS)
    throw malformed(`request Param2 ${hex(param2)} does not ask for all blocks (0xff)`);
  const nonce = cursor.take(NONCE_LENGTH, "request nonce");
  const slotId = cursor.u8("request SlotIDParam");
  // Slot 0 holds the device certificate chain the evidence carries; another slot's key is not the one verified.
  if ((slotId & 0x0f) !== 0) throw malformed(`request SlotID ${String(slotId & 0x0f)} is not slot 0`);
  return { version, param1, param2, nonce, slotId };
}

// Up to 255 blocks per GPU on every verification: the per-block reads are inline, and messages are built only on failure.
function parseBlocks(record: Uint8Array, count: number): MeasurementBlock[] {
  const blocks: MeasurementBlock[] = [];
  const seen = new Uint8Array(256);
  let at = 0;
  while (at < record.length) {
    if (record.length - at < 4) {
      throw malformed(
        `measurement record truncated: block header needs 4 bytes at offset ${at}, ${record.length - at} left`,
      );
    }
    const index = record[at] ?? 0;
    const specification = record[at + 1] ?? 0;
    const size = (record[at + 2] ?? 0) | ((record[at + 3] ?? 0) << 8);
    at += 4;
    if (size > record.length - at) {
      throw malformed(
        `measurement record truncated: block ${index} needs ${size} bytes at offset ${at}, ${record.length - at} left`,
      );
    }
    if (index === 0 || index === 0xff) throw malformed(`measurement block ${index} is reserved`);
    if (seen[index] === 1) throw malformed(`measurement block ${index} appears twice`);
    if (specification !== DMTF_SPECIFICATION) {
      throw malformed(`measurement block ${index} specification ${hex(specification)} is not DMTF`);
    }
    if (size < DMTF_HEADER_LENGTH) {
      throw malformed(`measurement block ${index} of ${size} bytes has no DMTF value header`);
    }
    const valueType = record[at] ?? 0;
    const valueSize = (record[at + 1] ?? 0) | ((record[at + 2] ?? 0) << 8);
    if (valueSize + DMTF_HEADER_LENGTH !== size) {
      throw malformed(`measurement block ${index} value size ${valueSize} does not fit block size ${size}`);
    }
    seen[index] = 1;
    // A plain view: a Buffer's subarray costs a FastBuffer construction per block.
    const value = new Uint8Array(record.buffer, record.byteOffset + at + DMTF_HEADER_LENGTH, valueSize);
    blocks.push({ index, valueType, value });
    at += size;
  }
  if (blocks.length !== count) {
    throw malformed(`NumberOfBlocks is ${count} but the record holds ${blocks.length} blocks`);
  }
  return blocks;
}

function parseResponse(cursor: ByteReader, request: SpdmMeasurementRequest): SpdmMeasurementResponse {
  const version = cursor.u8("response SPDMVersion");
  const code = cursor.u8("response RequestResponseCode");
  const param1 = cursor.u8("response Param1");
  const param2 = cursor.u8("response Param2");
  if (version !== request.version) {
    throw malformed(`response SPDM version ${hex(version)} differs from the request's`);
  }
  if (code !== MEASUREMENTS) throw malformed(`response code ${hex(code)} is not MEASUREMENTS (0x60)`);
  const count = cursor.u8("NumberOfBlocks");
  const recordLength = cursor.u24("MeasurementRecordLength");
  const blocks = parseBlocks(cursor.take(recordLength, "measurement record"), count);
  const nonce = cursor.take(NONCE_LENGTH, "response nonce");
  const opaqueLength = cursor.u16("OpaqueLength");
  const opaqueData = cursor.take(opaqueLength, "opaque data");
  const opaqueFields = parseOpaqueFields(opaqueData);
  const signature = cursor.take(SIGNATURE_LENGTH, "signature");
  return { version, param1, param2, blocks, nonce, opaqueData, opaqueFields, signature };
}

/** Parses request ‖ response. Never throws anything but an `EvidenceMalformed` EvidenceError. */
export function parseSpdmEvidence(bytes: Uint8Array): SpdmEvidence {
  try {
    const cursor = new ByteReader(bytes, "SPDM evidence");
    const request = parseRequest(cursor);
    const response = parseResponse(cursor, request);
    if (cursor.remaining > MAX_TRAILING_BYTES) {
      throw malformed(`${cursor.remaining} bytes follow the signature`);
    }
    const signedLength = cursor.offset - SIGNATURE_LENGTH;
    return {
      request,
      response,
      opaque: decodeOpaqueClaims(response.opaqueFields),
      signedBytes: bytes.subarray(0, signedLength),
      trailingBytes: cursor.remaining,
    };
  } catch (error) {
    if (error instanceof EvidenceError && error.code === "EvidenceMalformed") throw error;
    throw new EvidenceError("EvidenceMalformed", `SPDM evidence: ${String(error)}`, { cause: error });
  }
}
