import * as pkijs from "pkijs";
import { crlDer } from "./crl-encoding.ts";

/**
 * When a collateral item goes stale: `nextUpdate` of a TCB info / QE identity body (or its signed member) or of
 * a CRL (DER, PEM or hex). Undefined for anything else (certificates, chains, unknown kinds).
 */
export function collateralNextUpdate(bytes: Uint8Array): Date | undefined {
  return jsonNextUpdate(bytes) ?? crlNextUpdate(bytes);
}

function jsonNextUpdate(bytes: Uint8Array): Date | undefined {
  if (bytes[0] !== 0x7b) return undefined;
  try {
    const json = JSON.parse(Buffer.from(bytes).toString("utf8")) as Record<string, unknown>;
    const member = [json.tcbInfo, json.enclaveIdentity, json].find(
      (candidate): candidate is Record<string, unknown> =>
        typeof candidate === "object" &&
        candidate !== null &&
        typeof (candidate as { nextUpdate?: unknown }).nextUpdate === "string",
    );
    const date = member === undefined ? undefined : new Date(member.nextUpdate as string);
    return date === undefined || Number.isNaN(date.getTime()) ? undefined : date;
  } catch {
    return undefined;
  }
}

function crlNextUpdate(bytes: Uint8Array): Date | undefined {
  try {
    return pkijs.CertificateRevocationList.fromBER(crlDer(bytes)).nextUpdate?.value;
  } catch {
    return undefined;
  }
}
