/**
 * Completes a bundle's TDX collateral from the operator's CollateralSource, and lets the operator's win where the
 * bundle's is older (anti-rollback: whoever writes `status.evidence` could otherwise pick older, still valid
 * collateral that predates a revocation or a TCB recovery). Nothing fetched here is trusted until verified.
 */
import type { ConfidentialVMStatusEvidenceTeeCollateral } from "../../api/v1alpha1/generated/types.ts";
import * as kinds from "../collateral/kinds.ts";
import { toVerificationError, type CollateralSource, type VerificationError } from "../types.ts";
import { BoundedMap } from "../bounded-map.ts";
import { decodeCrlBytes, parseCrl } from "./crl.ts";
import { splitSignedJson } from "./signed-json.ts";

/** The bundle's `tee.collateral` (docs/evidence-bundle.md#bundle): CRLs base64 DER, JSON as the exact signed text. */
export type TdxCollateral = ConfidentialVMStatusEvidenceTeeCollateral;

// Cached sources hand out the same Uint8Array each time; decode each one once.
const decoded = new WeakMap<Uint8Array, TdxCollateral>();

function decodeOnce(bytes: Uint8Array, decode: (bytes: Uint8Array) => TdxCollateral): TdxCollateral {
  let value = decoded.get(bytes);
  if (value === undefined) {
    value = decode(bytes);
    decoded.set(bytes, value);
  }
  return value;
}

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString("utf8");
const base64Crl = (bytes: Uint8Array): string => Buffer.from(decodeCrlBytes(bytes)).toString("base64");
const tcbInfoOf = (bytes: Uint8Array): TdxCollateral => {
  const signed = splitSignedJson(text(bytes), "tcbInfo", "TCB info");
  return { tcbInfo: signed.text, tcbInfoSignature: signed.signature };
};
const qeIdentityOf = (bytes: Uint8Array): TdxCollateral => {
  const signed = splitSignedJson(text(bytes), "enclaveIdentity", "QE identity");
  return { qeIdentity: signed.text, qeIdentitySignature: signed.signature };
};

/** When a collateral item was issued: TCB info and QE identity `issueDate`, a CRL's `thisUpdate`. */
function issuedAt(collateral: TdxCollateral, field: keyof TdxCollateral): number | undefined {
  const value = collateral[field];
  if (value === undefined) return undefined;
  const key = `${field}\n${value}`;
  // A bundle re-sent on every re-attestation carries the same texts: parse each once.
  if (issueDates.has(key)) return issueDates.get(key) ?? undefined;
  const date = parseIssueDate(field, value);
  issueDates.set(key, date ?? null);
  return date;
}

const issueDates = new BoundedMap<string, number | null>(256);

function parseIssueDate(field: keyof TdxCollateral, value: string): number | undefined {
  try {
    if (field === "pckCrl" || field === "rootCaCrl")
      return parseCrl(decodeCrlBytes(Buffer.from(value, "base64")), field).thisUpdate.getTime();
    const date = Date.parse((JSON.parse(value) as { issueDate?: string }).issueDate ?? "");
    return Number.isNaN(date) ? undefined : date;
  } catch {
    return undefined;
  }
}

interface Item {
  kind: string;
  key: string;
  /** The bundle fields this item fills. */
  fields: (keyof TdxCollateral)[];
  decode: (bytes: Uint8Array) => TdxCollateral;
  /** For an item with a date (TCB info, QE identity, CRLs): its field, and the issuer chain that comes with it. */
  dated?: { field: keyof TdxCollateral; chain?: keyof TdxCollateral };
}

function items(fmspc: string, caType: kinds.PckCaType): Item[] {
  const fmspcKey = kinds.tcbInfoKey(fmspc);
  return [
    {
      kind: kinds.TDX_TCB_INFO,
      key: fmspcKey,
      fields: ["tcbInfo", "tcbInfoSignature"],
      decode: tcbInfoOf,
      dated: { field: "tcbInfo", chain: "tcbInfoIssuerChain" },
    },
    {
      kind: kinds.TDX_TCB_INFO_ISSUER_CHAIN,
      key: fmspcKey,
      fields: ["tcbInfoIssuerChain"],
      decode: (bytes) => ({ tcbInfoIssuerChain: text(bytes) }),
    },
    {
      kind: kinds.TDX_QE_IDENTITY,
      key: kinds.TD_QE_KEY,
      fields: ["qeIdentity", "qeIdentitySignature"],
      decode: qeIdentityOf,
      dated: { field: "qeIdentity", chain: "qeIdentityIssuerChain" },
    },
    {
      kind: kinds.TDX_QE_IDENTITY_ISSUER_CHAIN,
      key: kinds.TD_QE_KEY,
      fields: ["qeIdentityIssuerChain"],
      decode: (bytes) => ({ qeIdentityIssuerChain: text(bytes) }),
    },
    {
      kind: kinds.SGX_PCK_CRL,
      key: caType,
      fields: ["pckCrl"],
      decode: (bytes) => ({ pckCrl: base64Crl(bytes) }),
      dated: { field: "pckCrl", chain: "pckCrlIssuerChain" },
    },
    {
      kind: kinds.SGX_PCK_CRL_ISSUER_CHAIN,
      key: caType,
      fields: ["pckCrlIssuerChain"],
      decode: (bytes) => ({ pckCrlIssuerChain: text(bytes) }),
    },
    {
      kind: kinds.SGX_ROOT_CA_CRL,
      key: kinds.ROOT_CA_KEY,
      fields: ["rootCaCrl"],
      decode: (bytes) => ({ rootCaCrl: base64Crl(bytes) }),
      dated: { field: "rootCaCrl" },
    },
  ];
}

/** Whether the operator's item was issued after the bundle's (or the bundle's date cannot be read). */
function newer(ours: TdxCollateral, bundle: TdxCollateral, field: keyof TdxCollateral): boolean {
  const operator = issuedAt(ours, field);
  const theirs = issuedAt(bundle, field);
  return operator !== undefined && (theirs === undefined || operator > theirs);
}

export async function resolveCollateral(
  embedded: TdxCollateral | undefined,
  source: CollateralSource | undefined,
  fmspc: string,
  caType: kinds.PckCaType,
): Promise<{ collateral: TdxCollateral; errors: VerificationError[] }> {
  const collateral: TdxCollateral = { ...embedded };
  const errors: VerificationError[] = [];
  if (source === undefined) return { collateral, errors };
  // Every item is asked for: the operator's may be newer than the bundle's (a cached source answers at no cost).
  const all = items(fmspc, caType);
  const wanted = all;
  const fetched = new Map<string, TdxCollateral>();
  await Promise.all(
    wanted.map(async (item) => {
      try {
        const bytes = await source.get(item.kind, item.key);
        if (bytes !== undefined) fetched.set(item.kind, decodeOnce(bytes, item.decode));
      } catch (error) {
        const { message } = toVerificationError(error);
        errors.push({ code: "CollateralUnavailable", message: `${item.kind} ${item.key}: ${message}` });
      }
    }),
  );
  for (const item of wanted) {
    const ours = fetched.get(item.kind);
    if (ours === undefined) continue;
    const missing = item.fields.some((field) => collateral[field] === undefined);
    if (missing || (item.dated !== undefined && newer(ours, collateral, item.dated.field))) {
      Object.assign(collateral, ours);
      // An item's issuer chain comes from the same place as the item.
      const chain = item.dated?.chain;
      const chainItem = chain === undefined ? undefined : all.find((i) => i.fields.includes(chain));
      const ourChain = chainItem === undefined ? undefined : fetched.get(chainItem.kind);
      if (ourChain !== undefined) Object.assign(collateral, ourChain);
    }
  }
  return { collateral, errors };
}
