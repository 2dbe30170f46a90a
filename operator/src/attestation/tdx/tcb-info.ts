/** Typed view of Intel's TDX TCB info (PCS v4 `tcbInfo`, versions 2 and 3) and TD_QE identity (`enclaveIdentity` v2). */
import { EvidenceError, PLATFORM_TCB_STATUSES, type PlatformTcbStatus } from "../types.ts";
import {
  child,
  date,
  hexField,
  int,
  objects,
  oneOf,
  optionalStr,
  parseJsonObject,
  str,
  strings,
  type JsonObject,
} from "./json-fields.ts";

export const IDENTITY_TCB_STATUSES = ["UpToDate", "OutOfDate", "Revoked"] as const;
export type IdentityTcbStatus = (typeof IDENTITY_TCB_STATUSES)[number];

export interface TcbLevel {
  sgxComponents: number[];
  pceSvn: number;
  tdxComponents: number[];
  tcbDate: string;
  status: PlatformTcbStatus;
  advisoryIds: string[];
}

export interface IdentityTcbLevel {
  isvSvn: number;
  tcbDate: string;
  status: IdentityTcbStatus;
  advisoryIds: string[];
}

export interface TdxModuleIdentity {
  id: string;
  mrSigner: string;
  attributes: string;
  attributesMask: string;
  tcbLevels: IdentityTcbLevel[];
}

export interface TcbInfo {
  id: string;
  version: number;
  issueDate: Date;
  nextUpdate: Date;
  fmspc: string;
  pceId: string;
  tcbEvaluationDataNumber: number;
  tdxModule?: Omit<TdxModuleIdentity, "id" | "tcbLevels">;
  tdxModuleIdentities: TdxModuleIdentity[];
  tcbLevels: TcbLevel[];
}

export interface QeIdentity {
  id: string;
  version: number;
  issueDate: Date;
  nextUpdate: Date;
  tcbEvaluationDataNumber: number;
  miscselect: number;
  miscselectMask: number;
  attributes: string;
  attributesMask: string;
  mrSigner: string;
  isvProdId: number;
  tcbLevels: IdentityTcbLevel[];
}

/** Identity hex fields hold the report's bytes in report order, and MISCSELECT is little-endian there. */
function littleEndianU32(hex: string): number {
  return Buffer.from(hex, "hex").readUInt32LE(0);
}

function components(tcb: JsonObject, key: string, what: string): number[] {
  const list = objects(tcb, key, what).map((component) => int(component, "svn", what));
  if (list.length !== 16) {
    throw new EvidenceError("EvidenceMalformed", `${what}: ${key} has ${list.length} entries, not 16`);
  }
  return list;
}

function identityLevels(object: JsonObject, what: string): IdentityTcbLevel[] {
  return objects(object, "tcbLevels", what).map((level) => ({
    isvSvn: int(child(level, "tcb", what), "isvsvn", what),
    tcbDate: str(level, "tcbDate", what),
    status: oneOf(str(level, "tcbStatus", what), IDENTITY_TCB_STATUSES, what, "tcbStatus"),
    advisoryIds: strings(level, "advisoryIDs", what),
  }));
}

function moduleSigner(object: JsonObject, what: string): Omit<TdxModuleIdentity, "id" | "tcbLevels"> {
  return {
    mrSigner: hexField(object, "mrsigner", what, 48),
    attributes: hexField(object, "attributes", what, 8),
    attributesMask: hexField(object, "attributesMask", what, 8),
  };
}

export function parseTcbInfo(text: string): TcbInfo {
  const what = "TCB info";
  const info = parseJsonObject(text, what);
  // tcbType 0 is the only TCB level comparison Intel defines; another would need other rules, so it is refused.
  const tcbType = info.tcbType === undefined ? 0 : int(info, "tcbType", what);
  if (tcbType !== 0)
    throw new EvidenceError(
      "EvidenceMalformed",
      `${what}: tcbType ${String(tcbType)} is not supported (only 0)`,
    );
  return {
    id: optionalStr(info, "id", what) ?? "SGX",
    version: int(info, "version", what),
    issueDate: date(info, "issueDate", what),
    nextUpdate: date(info, "nextUpdate", what),
    fmspc: hexField(info, "fmspc", what, 6),
    pceId: hexField(info, "pceId", what, 2),
    tcbEvaluationDataNumber: int(info, "tcbEvaluationDataNumber", what),
    ...(info.tdxModule === undefined
      ? {}
      : { tdxModule: moduleSigner(child(info, "tdxModule", what), what) }),
    tdxModuleIdentities:
      info.tdxModuleIdentities === undefined
        ? []
        : objects(info, "tdxModuleIdentities", what).map((identity) => ({
            id: str(identity, "id", what).toUpperCase(),
            ...moduleSigner(identity, what),
            tcbLevels: identityLevels(identity, what),
          })),
    tcbLevels: objects(info, "tcbLevels", what).map((level) => {
      const tcb = child(level, "tcb", what);
      return {
        sgxComponents: components(tcb, "sgxtcbcomponents", what),
        pceSvn: int(tcb, "pcesvn", what),
        tdxComponents: tcb.tdxtcbcomponents === undefined ? [] : components(tcb, "tdxtcbcomponents", what),
        tcbDate: str(level, "tcbDate", what),
        status: oneOf(str(level, "tcbStatus", what), PLATFORM_TCB_STATUSES, what, "tcbStatus"),
        advisoryIds: strings(level, "advisoryIDs", what),
      };
    }),
  };
}

export function parseQeIdentity(text: string): QeIdentity {
  const what = "QE identity";
  const identity = parseJsonObject(text, what);
  return {
    id: str(identity, "id", what),
    version: int(identity, "version", what),
    issueDate: date(identity, "issueDate", what),
    nextUpdate: date(identity, "nextUpdate", what),
    tcbEvaluationDataNumber: int(identity, "tcbEvaluationDataNumber", what),
    miscselect: littleEndianU32(hexField(identity, "miscselect", what, 4)),
    miscselectMask: littleEndianU32(hexField(identity, "miscselectMask", what, 4)),
    attributes: hexField(identity, "attributes", what, 16),
    attributesMask: hexField(identity, "attributesMask", what, 16),
    mrSigner: hexField(identity, "mrsigner", what, 32),
    isvProdId: int(identity, "isvprodid", what),
    tcbLevels: identityLevels(identity, what),
  };
}
