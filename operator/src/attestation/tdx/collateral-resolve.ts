/** Completes a bundle's TDX collateral from a CollateralSource; nothing fetched here is trusted until verified. */
import type { ConfidentialVMStatusEvidenceTeeCollateral } from "../../api/v1alpha1/generated/types.ts";
import * as kinds from "../collateral/kinds.ts";
import { toVerificationError, type CollateralSource, type VerificationError } from "../types.ts";
import { decodeCrlBytes } from "./crl.ts";
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

interface Item {
  kind: string;
  key: string;
  /** The bundle fields this item fills; fetched only when one of them is missing. */
  fields: (keyof TdxCollateral)[];
  decode: (bytes: Uint8Array) => TdxCollateral;
}

function items(fmspc: string, caType: kinds.PckCaType): Item[] {
  const fmspcKey = kinds.tcbInfoKey(fmspc);
  return [
    { kind: kinds.TDX_TCB_INFO, key: fmspcKey, fields: ["tcbInfo", "tcbInfoSignature"], decode: tcbInfoOf },
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
    },
  ];
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
  const wanted = items(fmspc, caType).filter((item) =>
    item.fields.some((field) => collateral[field] === undefined),
  );
  await Promise.all(
    wanted.map(async (item) => {
      try {
        const bytes = await source.get(item.kind, item.key);
        if (bytes !== undefined) Object.assign(collateral, decodeOnce(bytes, item.decode));
      } catch (error) {
        const { message } = toVerificationError(error);
        errors.push({ code: "CollateralUnavailable", message: `${item.kind} ${item.key}: ${message}` });
      }
    }),
  );
  return { collateral, errors };
}
