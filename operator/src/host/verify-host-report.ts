import { calculateJwkThumbprint, compactVerify, decodeProtectedHeader, importJWK } from "jose";
import type {
  ConfidentialHostStatus,
  ConfidentialHostStatusReportPublicKey,
} from "../api/v1alpha1/generated/types.ts";
import { hostReportPayload } from "./host-report.ts";

/** JWS `typ` of an agent's host report. */
export const HOST_REPORT_JWS_TYPE = "trustgate-host-report+jws";
export const HOST_REPORT_ALG = "ES256";

export type HostReportFailureCode =
  | "ReportMissing"
  | "PublicKeyInvalid"
  | "KeyIdMismatch"
  | "HeaderInvalid"
  | "SignatureInvalid"
  | "NodeMismatch"
  | "PayloadMismatch";

export type HostReportVerification =
  | { ok: true; keyId: string }
  | { ok: false; code: HostReportFailureCode; reason: string };

const B64URL_32_BYTES = /^[A-Za-z0-9_-]{43}$/;

function fail(code: HostReportFailureCode, reason: string): HostReportVerification {
  return { ok: false, code, reason };
}

/** RFC 7638 thumbprint (SHA-256) of the public part of a P-256 key: the agent's keyId. */
export function hostReportKeyId(
  publicKey: Pick<ConfidentialHostStatusReportPublicKey, "crv" | "kty" | "x" | "y">,
): Promise<string> {
  return calculateJwkThumbprint(
    { kty: publicKey.kty, crv: publicKey.crv, x: publicKey.x, y: publicKey.y },
    "sha256",
  );
}

/** The published key is untrusted input: check it as plain JSON, whatever its declared type says. */
function publicKeyProblem(key: ConfidentialHostStatusReportPublicKey): string | undefined {
  const raw = key as unknown as Record<string, unknown>;
  if (raw["d"] !== undefined) return "publicKey contains a private key";
  if (raw["kty"] !== "EC" || raw["crv"] !== "P-256") return "publicKey is not an EC P-256 key";
  if (
    typeof raw["x"] !== "string" ||
    typeof raw["y"] !== "string" ||
    !B64URL_32_BYTES.test(raw["x"]) ||
    !B64URL_32_BYTES.test(raw["y"])
  )
    return "publicKey x/y are not 32-byte base64url";
  if (raw["alg"] !== undefined && raw["alg"] !== HOST_REPORT_ALG)
    return `publicKey alg is ${JSON.stringify(raw["alg"])}`;
  if (raw["use"] !== undefined && raw["use"] !== "sig")
    return `publicKey use is ${JSON.stringify(raw["use"])}`;
  return undefined;
}

/**
 * Checks a ConfidentialHost status report: the JWS verifies with status.report.publicKey, keyId is
 * that key's thumbprint (and its kid), and the signed payload is exactly hostReportPayload(nodeName,
 * status) — so every signed field, and the node it was signed for, is as the agent reported it.
 * Says nothing about whether the key is the one first seen for this node: the caller remembers that.
 */
export async function verifyHostReport(
  nodeName: string,
  status: ConfidentialHostStatus | undefined,
): Promise<HostReportVerification> {
  const report = status?.report;
  if (status === undefined || report === undefined) return fail("ReportMissing", "status has no report");
  const { jws, keyId, publicKey } = report;

  const keyProblem = publicKeyProblem(publicKey);
  if (keyProblem !== undefined) return fail("PublicKeyInvalid", keyProblem);
  const thumbprint = await hostReportKeyId(publicKey);
  if (keyId !== thumbprint) return fail("KeyIdMismatch", "keyId is not the thumbprint of publicKey");
  if (publicKey.kid !== undefined && publicKey.kid !== keyId)
    return fail("KeyIdMismatch", "publicKey kid differs from keyId");

  let header;
  try {
    header = decodeProtectedHeader(jws);
  } catch {
    return fail("HeaderInvalid", "jws protected header is not readable");
  }
  if (header.alg !== HOST_REPORT_ALG)
    return fail("HeaderInvalid", `jws alg is ${String(header.alg)}, not ES256`);
  if (header.typ !== HOST_REPORT_JWS_TYPE) return fail("HeaderInvalid", `jws typ is ${String(header.typ)}`);
  if (header.kid !== keyId) return fail("KeyIdMismatch", "jws kid differs from keyId");

  let payload: Uint8Array;
  try {
    const key = await importJWK({ kty: "EC", crv: "P-256", x: publicKey.x, y: publicKey.y }, HOST_REPORT_ALG);
    ({ payload } = await compactVerify(jws, key, { algorithms: [HOST_REPORT_ALG] }));
  } catch (error) {
    return fail("SignatureInvalid", `jws signature does not verify: ${(error as Error).message}`);
  }
  const signed = new TextDecoder().decode(payload);
  if (signed === hostReportPayload(nodeName, status)) return { ok: true, keyId };
  let signedNode: unknown;
  try {
    signedNode = (JSON.parse(signed) as { nodeName?: unknown }).nodeName;
  } catch {
    signedNode = undefined;
  }
  if (signedNode !== nodeName)
    return fail("NodeMismatch", `report was signed for node ${JSON.stringify(signedNode)}`);
  return fail("PayloadMismatch", "status fields differ from the signed report");
}
