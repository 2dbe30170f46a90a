/**
 * OCSP (RFC 6960) for NVIDIA's device and RIM certificates: parse a DER OCSPResponse (pkijs), then check it for one
 * certificate: the responder is the issuing CA itself or a certificate that CA issued for id-kp-OCSPSigning, the
 * signature over tbsResponseData verifies, and a SingleResponse's CertID names the certificate (issuer name and key
 * hash, serial). The time window is checked apart (`checkOcspWindow`) so that a verified answer can be cached and
 * still expire. Everything here is pure; bad input throws EvidenceError, never anything else.
 */
import { createHash, verify, X509Certificate } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { BoundedMap } from "../../bounded-map.ts";
import { EvidenceError } from "../../types.ts";
import { commonName } from "../rim/signer-chain.ts";

export const ID_PKIX_OCSP_BASIC = "1.3.6.1.5.5.7.48.1.1";
const ID_KP_OCSP_SIGNING = "1.3.6.1.5.5.7.3.9";
const EXT_KEY_USAGE = "2.5.29.37";
/** Responses larger than this are refused unparsed (NVIDIA's are about 2 kB). */
export const MAX_OCSP_RESPONSE_BYTES = 65_536;
/** With no nextUpdate, a response is trusted this long after thisUpdate. */
const NO_NEXT_UPDATE_MAX_AGE_MS = 7 * 24 * 3600_000;
/** A responder clock slightly ahead of ours is not an error. */
const CLOCK_SKEW_MS = 5 * 60_000;

const HASH_OIDS: Readonly<Record<string, string>> = {
  "1.3.14.3.2.26": "sha1",
  "2.16.840.1.101.3.4.2.1": "sha256",
  "2.16.840.1.101.3.4.2.2": "sha384",
  "2.16.840.1.101.3.4.2.3": "sha512",
};
export const HASH_OID_OF: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(HASH_OIDS).map(([oid, name]) => [name, oid]),
);
const SIGNATURE_HASHES: Readonly<Record<string, string>> = {
  "1.2.840.10045.4.3.2": "sha256",
  "1.2.840.10045.4.3.3": "sha384",
  "1.2.840.10045.4.3.4": "sha512",
  "1.2.840.113549.1.1.11": "sha256",
  "1.2.840.113549.1.1.12": "sha384",
  "1.2.840.113549.1.1.13": "sha512",
};
const RESPONSE_STATUSES = ["successful", "malformedRequest", "internalError", "tryLater", "4", "sigRequired"];
/** CRLReason (RFC 5280 5.3.1); 7 is unused. */
export const CRL_REASONS = [
  "unspecified",
  "keyCompromise",
  "cACompromise",
  "affiliationChanged",
  "superseded",
  "cessationOfOperation",
  "certificateHold",
  "7",
  "removeFromCRL",
  "privilegeWithdrawn",
  "aACompromise",
] as const;

export type CertStatus = "good" | "revoked" | "unknown";

/** The CertID of a SingleResponse, hex. */
export interface CertId {
  hash: string;
  issuerNameHash: string;
  issuerKeyHash: string;
  serial: string;
}

export interface SingleStatus {
  certId: CertId;
  status: CertStatus;
  revokedAt?: Date;
  reason?: string;
  thisUpdate: Date;
  nextUpdate?: Date;
}

export interface ParsedOcspResponse {
  tbs: Uint8Array;
  signatureHash: string;
  signature: Uint8Array;
  responder: { name?: string; keyHash?: string };
  producedAt: Date;
  responses: SingleStatus[];
  certs: X509Certificate[];
}

/** What a verified response says about one certificate, and until when it may be relied on. */
export interface OcspAnswer {
  status: CertStatus;
  reason?: string;
  revokedAt?: Date;
  /** The window at which the answer holds: the response's, narrowed by the delegated responder's validity. */
  validFrom: Date;
  validUntil: Date;
  responder: string;
  subject: string;
}

function malformed(message: string, cause?: unknown): EvidenceError {
  return new EvidenceError(
    "EvidenceMalformed",
    `OCSP response: ${message}`,
    cause === undefined ? {} : { cause },
  );
}

const hex = (bytes: ArrayBuffer | Uint8Array): string => Buffer.from(new Uint8Array(bytes)).toString("hex");

/** Serial numbers compare as unsigned integers: no sign byte, no leading zeros. */
export function normalizeSerial(hexSerial: string): string {
  const trimmed = hexSerial.toLowerCase().replace(/^(00)+/, "");
  return trimmed === "" ? "00" : trimmed;
}

function singleStatus(single: pkijs.SingleResponse): SingleStatus {
  const hash = HASH_OIDS[single.certID.hashAlgorithm.algorithmId];
  if (hash === undefined)
    throw malformed(`CertID hash algorithm ${single.certID.hashAlgorithm.algorithmId} is not supported`);
  const certId: CertId = {
    hash,
    issuerNameHash: hex(single.certID.issuerNameHash.valueBlock.valueHexView),
    issuerKeyHash: hex(single.certID.issuerKeyHash.valueBlock.valueHexView),
    serial: normalizeSerial(hex(single.certID.serialNumber.valueBlock.valueHexView)),
  };
  const status = single.certStatus as asn1js.BaseBlock;
  const base = {
    certId,
    thisUpdate: single.thisUpdate,
    ...(single.nextUpdate === undefined ? {} : { nextUpdate: single.nextUpdate }),
  };
  const tag = status.idBlock.tagNumber;
  if (tag === 0) return { ...base, status: "good" };
  if (tag === 2) return { ...base, status: "unknown" };
  const [time, reasonBlock] = (status as asn1js.Constructed).valueBlock.value;
  if (!(time instanceof asn1js.GeneralizedTime)) throw malformed("RevokedInfo has no revocationTime");
  const enumerated = (reasonBlock as asn1js.Constructed | undefined)?.valueBlock.value[0];
  const code = enumerated instanceof asn1js.Enumerated ? enumerated.valueBlock.valueDec : undefined;
  return {
    ...base,
    status: "revoked",
    revokedAt: time.toDate(),
    ...(code === undefined ? {} : { reason: CRL_REASONS[code] ?? String(code) }),
  };
}

function certificatesOf(basic: pkijs.BasicOCSPResponse): X509Certificate[] {
  return (basic.certs ?? []).map((cert) => {
    try {
      return new X509Certificate(Buffer.from(cert.toSchema().toBER()));
    } catch (error) {
      throw malformed("a responder certificate is not valid X.509", error);
    }
  });
}

/** Decodes an OCSPResponse (DER). Throws EvidenceMalformed, or CollateralUnavailable for a non-successful status. */
export function parseOcspResponse(der: Uint8Array): ParsedOcspResponse {
  if (der.length > MAX_OCSP_RESPONSE_BYTES) throw malformed(`larger than ${MAX_OCSP_RESPONSE_BYTES} bytes`);
  let basic: pkijs.BasicOCSPResponse;
  try {
    const response = pkijs.OCSPResponse.fromBER(der);
    const status = response.responseStatus.valueBlock.valueDec;
    if (status !== 0) {
      throw new EvidenceError(
        "CollateralUnavailable",
        `OCSP responder answered ${RESPONSE_STATUSES[status] ?? String(status)}`,
      );
    }
    if (response.responseBytes?.responseType !== ID_PKIX_OCSP_BASIC)
      throw malformed("the response is not an id-pkix-ocsp-basic response");
    basic = pkijs.BasicOCSPResponse.fromBER(response.responseBytes.response.valueBlock.valueHexView);
  } catch (error) {
    if (error instanceof EvidenceError) throw error;
    throw malformed(`not DER of an OCSPResponse (${(error as Error).message})`, error);
  }
  const data = basic.tbsResponseData;
  const signatureHash = SIGNATURE_HASHES[basic.signatureAlgorithm.algorithmId];
  if (signatureHash === undefined)
    throw malformed(`signature algorithm ${basic.signatureAlgorithm.algorithmId} is not supported`);
  if (basic.signature.valueBlock.unusedBits !== 0)
    throw malformed("the signature BIT STRING has unused bits");
  const responderId = data.responderID as unknown;
  const responder =
    responderId instanceof pkijs.RelativeDistinguishedNames
      ? { name: hex(responderId.valueBeforeDecode) }
      : responderId instanceof asn1js.OctetString
        ? { keyHash: hex(responderId.valueBlock.valueHexView) }
        : undefined;
  if (responder === undefined) throw malformed("the responderID is neither byName nor byKey");
  return {
    tbs: data.tbsView,
    signatureHash,
    signature: basic.signature.valueBlock.valueHexView,
    responder,
    producedAt: data.producedAt,
    responses: data.responses.map(singleStatus),
    certs: certificatesOf(basic),
  };
}

interface NameAndKey {
  subject: Uint8Array;
  issuer: Uint8Array;
  key: Uint8Array;
}

/**
 * By the certificate's SHA-256: the same few CAs and responders appear in every response, and decoding each with
 * pkijs again was most of the cost of checking one.
 */
const namesAndKeys = new BoundedMap<string, NameAndKey>(1024);

/** Subject name (DER) and public key bits of a certificate: what CertIDs and ResponderIDs hash. */
export function nameAndKey(cert: X509Certificate): NameAndKey {
  const fingerprint = cert.fingerprint256;
  const known = namesAndKeys.get(fingerprint);
  if (known !== undefined) return known;
  const parsed = pkijs.Certificate.fromBER(cert.raw);
  const decoded = {
    subject: new Uint8Array(parsed.subject.valueBeforeDecode),
    issuer: new Uint8Array(parsed.issuer.valueBeforeDecode),
    key: new Uint8Array(parsed.subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView),
  };
  namesAndKeys.set(fingerprint, decoded);
  return decoded;
}

/** The CertID of `cert` (issued by `issuer`) under `hash`. */
export function certIdOf(cert: X509Certificate, issuer: X509Certificate, hash = "sha384"): CertId {
  const digest = (bytes: Uint8Array): string => createHash(hash).update(bytes).digest("hex");
  const { subject, key } = nameAndKey(issuer);
  return {
    hash,
    issuerNameHash: digest(subject),
    issuerKeyHash: digest(key),
    serial: normalizeSerial(cert.serialNumber),
  };
}

export function sameCertId(a: CertId, b: CertId): boolean {
  return (
    a.hash === b.hash &&
    a.issuerNameHash === b.issuerNameHash &&
    a.issuerKeyHash === b.issuerKeyHash &&
    a.serial === b.serial
  );
}

function extendedKeyUsages(cert: X509Certificate): string[] {
  const extension = pkijs.Certificate.fromBER(cert.raw).extensions?.find((e) => e.extnID === EXT_KEY_USAGE);
  if (extension === undefined) return [];
  const decoded = asn1js.fromBER(extension.extnValue.valueBlock.valueHexView).result;
  if (!(decoded instanceof asn1js.Sequence)) return [];
  return decoded.valueBlock.value.flatMap((v) =>
    v instanceof asn1js.ObjectIdentifier ? [v.getValue()] : [],
  );
}

function matchesResponderId(cert: X509Certificate, responder: ParsedOcspResponse["responder"]): boolean {
  const { subject, key } = nameAndKey(cert);
  if (responder.name !== undefined) return hex(subject) === responder.name;
  return createHash("sha1").update(key).digest("hex") === responder.keyHash;
}

function signatureInvalid(message: string): EvidenceError {
  return new EvidenceError("SignatureInvalid", `OCSP response: ${message}`);
}

/**
 * Delegated responders found issued by a CA for id-kp-OCSPSigning, by both certificates' SHA-256 (a fact of their
 * bytes): a responder signs every response of its CA. Only successes are kept.
 */
const authorisedResponders = new BoundedMap<string, true>(256);

/** The certificate that signed the response, authorised for `issuer` (RFC 6960 4.2.2.2); with its validity. */
function authorisedSigner(parsed: ParsedOcspResponse, issuer: X509Certificate): X509Certificate {
  if (matchesResponderId(issuer, parsed.responder)) return issuer;
  const signer = parsed.certs.find((c) => matchesResponderId(c, parsed.responder));
  if (signer === undefined)
    throw signatureInvalid(
      `signed by a responder that is neither ${commonName(issuer.subject)} nor in the response`,
    );
  const delegation = `${signer.fingerprint256}>${issuer.fingerprint256}`;
  if (authorisedResponders.has(delegation)) return signer;
  const name = commonName(signer.subject);
  if (!signer.checkIssued(issuer) || !signer.verify(issuer.publicKey))
    throw signatureInvalid(`responder ${name} is not issued by ${commonName(issuer.subject)}`);
  if (!extendedKeyUsages(signer).includes(ID_KP_OCSP_SIGNING))
    throw signatureInvalid(`responder ${name} is not authorised for OCSP signing (no id-kp-OCSPSigning)`);
  authorisedResponders.set(delegation, true);
  return signer;
}

/**
 * Verifies `parsed` for `cert` (issued by `issuer`): signer, signature, CertID. Throws SignatureInvalid for a
 * signature or signer that does not verify, CollateralMissing when the response does not cover the certificate.
 */
export function verifyOcspResponse(
  parsed: ParsedOcspResponse,
  cert: X509Certificate,
  issuer: X509Certificate,
): OcspAnswer {
  const signer = authorisedSigner(parsed, issuer);
  const key = signer.publicKey;
  const ok = verify(
    parsed.signatureHash,
    parsed.tbs,
    key.asymmetricKeyType === "ec" ? { key, dsaEncoding: "der" } : key,
    parsed.signature,
  );
  if (!ok) throw signatureInvalid(`the signature does not verify under ${commonName(signer.subject)}`);
  const single = parsed.responses.find((r) => sameCertId(r.certId, certIdOf(cert, issuer, r.certId.hash)));
  const subject = commonName(cert.subject);
  if (single === undefined) {
    throw new EvidenceError(
      "CollateralMissing",
      `OCSP response holds no status for ${subject} (serial ${normalizeSerial(cert.serialNumber)})`,
    );
  }
  const until = single.nextUpdate ?? new Date(single.thisUpdate.getTime() + NO_NEXT_UPDATE_MAX_AGE_MS);
  const delegated = signer !== issuer;
  return {
    status: single.status,
    ...(single.reason === undefined ? {} : { reason: single.reason }),
    ...(single.revokedAt === undefined ? {} : { revokedAt: single.revokedAt }),
    validFrom:
      delegated && signer.validFromDate > single.thisUpdate ? signer.validFromDate : single.thisUpdate,
    validUntil: delegated && signer.validToDate < until ? signer.validToDate : until,
    responder: commonName(signer.subject),
    subject,
  };
}

/** Throws CollateralExpired when the answer does not hold at `now`. */
export function checkOcspWindow(answer: OcspAnswer, now: Date): void {
  if (now.getTime() + CLOCK_SKEW_MS < answer.validFrom.getTime()) {
    throw new EvidenceError(
      "CollateralExpired",
      `OCSP response for ${answer.subject} is not valid before ${answer.validFrom.toISOString()}`,
    );
  }
  if (now > answer.validUntil) {
    throw new EvidenceError(
      "CollateralExpired",
      `OCSP response for ${answer.subject} expired at ${answer.validUntil.toISOString()}`,
    );
  }
}
