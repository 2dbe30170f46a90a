/**
 * OCSP (RFC 6960) for NVIDIA's device and RIM certificates: parse a DER OCSPResponse, then check it for one
 * certificate: the responder is the issuing CA itself or a certificate that CA issued for id-kp-OCSPSigning, the
 * signature over tbsResponseData verifies, and a SingleResponse's CertID names the certificate (issuer name and key
 * hash, serial). The time window is checked apart (`checkOcspWindow`) so that a verified answer can be cached and
 * still expire. Everything here is pure; bad input throws EvidenceError, never anything else.
 */
import { createHash, verify, X509Certificate } from "node:crypto";
import {
  bitString,
  contextTag,
  type DerNode,
  DerError,
  explicit,
  expectTag,
  integerBytes,
  octetString,
  oid,
  readDer,
  sequence,
  smallInteger,
  TAG,
  time,
} from "../../../crypto/der.ts";
import { algorithmIdentifier, findExtension, parseCertificateDer } from "../../../crypto/x509-der.ts";
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

/** CertStatus ::= CHOICE { good [0] IMPLICIT NULL, revoked [1] IMPLICIT RevokedInfo, unknown [2] IMPLICIT NULL } */
function certStatusOf(node: DerNode | undefined): Pick<SingleStatus, "status" | "revokedAt" | "reason"> {
  if (node?.tag === contextTag(0, false) && node.content.length === 0) return { status: "good" };
  if (node?.tag === contextTag(2, false) && node.content.length === 0) return { status: "unknown" };
  if (node?.tag !== contextTag(1, true)) throw new DerError("certStatus is not good, revoked or unknown");
  const [revocationTime, reason, extra] = sequence(node, "RevokedInfo", node.tag);
  if (extra !== undefined) throw new DerError("RevokedInfo has more than two fields");
  if (revocationTime?.tag !== TAG.GENERALIZED_TIME) throw new DerError("RevokedInfo has no revocationTime");
  const revokedAt = time(revocationTime, "revocationTime");
  if (reason === undefined) return { status: "revoked", revokedAt };
  if (reason.tag !== contextTag(0, true)) throw new DerError("RevokedInfo revocationReason is not [0]");
  const code = smallInteger(explicit(reason, "revocationReason"), "revocationReason", TAG.ENUMERATED);
  return { status: "revoked", revokedAt, reason: CRL_REASONS[code] ?? String(code) };
}

/** SingleResponse ::= SEQUENCE { certID, certStatus, thisUpdate, nextUpdate [0] OPTIONAL, singleExtensions [1] } */
function singleStatus(node: DerNode): SingleStatus {
  const [certIdNode, statusNode, thisUpdateNode, ...rest] = sequence(node, "SingleResponse");
  const [hashAlgorithm, issuerNameHash, issuerKeyHash, serialNumber, extra] = sequence(certIdNode, "CertID");
  if (extra !== undefined) throw new DerError("CertID has more than four fields");
  const hashOid = algorithmIdentifier(hashAlgorithm, "CertID hashAlgorithm").oid;
  const hash = HASH_OIDS[hashOid];
  if (hash === undefined) throw malformed(`CertID hash algorithm ${hashOid} is not supported`);
  const certId: CertId = {
    hash,
    issuerNameHash: hex(octetString(issuerNameHash, "CertID issuerNameHash")),
    issuerKeyHash: hex(octetString(issuerKeyHash, "CertID issuerKeyHash")),
    serial: normalizeSerial(hex(integerBytes(serialNumber, "CertID serialNumber"))),
  };
  if (thisUpdateNode?.tag !== TAG.GENERALIZED_TIME)
    throw new DerError("SingleResponse thisUpdate is missing");
  const thisUpdate = time(thisUpdateNode, "thisUpdate");
  let nextUpdate: Date | undefined;
  for (const field of rest) {
    if (field.tag === contextTag(0, true) && nextUpdate === undefined)
      nextUpdate = time(
        expectTag(explicit(field, "nextUpdate"), TAG.GENERALIZED_TIME, "nextUpdate"),
        "nextUpdate",
      );
    else if (field.tag !== contextTag(1, true)) throw new DerError("SingleResponse has an unexpected field");
  }
  return {
    certId,
    ...certStatusOf(statusNode),
    thisUpdate,
    ...(nextUpdate === undefined ? {} : { nextUpdate }),
  };
}

function certificatesOf(node: DerNode | undefined): X509Certificate[] {
  if (node === undefined) return [];
  return sequence(explicit(node, "certs"), "certs").map((cert) => {
    try {
      return new X509Certificate(cert.der);
    } catch (error) {
      throw malformed("a responder certificate is not valid X.509", error);
    }
  });
}

/** ResponderID ::= CHOICE { byName [1] Name, byKey [2] KeyHash } (explicitly tagged, RFC 6960's module). */
function responderOf(node: DerNode | undefined): ParsedOcspResponse["responder"] {
  if (node?.tag === contextTag(1, true))
    return { name: hex(expectTag(explicit(node, "byName"), TAG.SEQUENCE, "byName").der) };
  if (node?.tag === contextTag(2, true))
    return { keyHash: hex(octetString(explicit(node, "byKey"), "byKey")) };
  throw malformed("the responderID is neither byName nor byKey");
}

/** Decodes an OCSPResponse (DER). Throws EvidenceMalformed, or CollateralUnavailable for a non-successful status. */
export function parseOcspResponse(der: Uint8Array): ParsedOcspResponse {
  if (der.length > MAX_OCSP_RESPONSE_BYTES) throw malformed(`larger than ${MAX_OCSP_RESPONSE_BYTES} bytes`);
  try {
    const [statusNode, bytesNode, extra] = sequence(readDer(der, "OCSPResponse"), "OCSPResponse");
    if (extra !== undefined) throw new DerError("OCSPResponse has more than two fields");
    const status = smallInteger(statusNode, "responseStatus", TAG.ENUMERATED);
    if (status !== 0) {
      throw new EvidenceError(
        "CollateralUnavailable",
        `OCSP responder answered ${RESPONSE_STATUSES[status] ?? String(status)}`,
      );
    }
    if (bytesNode?.tag !== contextTag(0, true))
      throw new DerError("a successful response has no responseBytes");
    const [responseType, response] = sequence(explicit(bytesNode, "responseBytes"), "ResponseBytes");
    if (oid(responseType, "responseType") !== ID_PKIX_OCSP_BASIC)
      throw malformed("the response is not an id-pkix-ocsp-basic response");
    const basicDer = octetString(response, "ResponseBytes response");
    const [tbs, signatureAlgorithm, signature, certs, more] = sequence(
      readDer(basicDer, "BasicOCSPResponse"),
      "BasicOCSPResponse",
    );
    if (more !== undefined || (certs !== undefined && certs.tag !== contextTag(0, true)))
      throw new DerError("BasicOCSPResponse has unexpected fields");
    const signatureOid = algorithmIdentifier(signatureAlgorithm, "signatureAlgorithm").oid;
    const signatureHash = SIGNATURE_HASHES[signatureOid];
    if (signatureHash === undefined) throw malformed(`signature algorithm ${signatureOid} is not supported`);
    const { bits, unusedBits } = bitString(signature, "signature");
    if (unusedBits !== 0) throw malformed("the signature BIT STRING has unused bits");
    const data = sequence(tbs, "ResponseData");
    let i = 0;
    if (data[0]?.tag === contextTag(0, true)) {
      if (smallInteger(explicit(data[0], "version"), "version") !== 0)
        throw malformed("ResponseData version is not v1");
      i = 1;
    }
    const responder = responderOf(data[i]);
    const producedAtNode = expectTag(data[i + 1], TAG.GENERALIZED_TIME, "producedAt");
    const responses = sequence(data[i + 2], "responses").map(singleStatus);
    const tail = data.slice(i + 3);
    if (tail.length > 1 || (tail[0] !== undefined && tail[0].tag !== contextTag(1, true)))
      throw new DerError("ResponseData has unexpected fields");
    return {
      tbs: (tbs as DerNode).der,
      signatureHash,
      signature: bits,
      responder,
      producedAt: time(producedAtNode, "producedAt"),
      responses,
      certs: certificatesOf(certs),
    };
  } catch (error) {
    if (error instanceof EvidenceError) throw error;
    throw malformed(`not DER of an OCSPResponse (${(error as Error).message})`, error);
  }
}

interface NameAndKey {
  subject: Uint8Array;
  issuer: Uint8Array;
  key: Uint8Array;
}

/**
 * By the certificate's SHA-256: the same few CAs and responders appear in every response.
 */
const namesAndKeys = new BoundedMap<string, NameAndKey>(1024);

/** Subject name (DER) and public key bits of a certificate: what CertIDs and ResponderIDs hash. */
export function nameAndKey(cert: X509Certificate): NameAndKey {
  const fingerprint = cert.fingerprint256;
  const known = namesAndKeys.get(fingerprint);
  if (known !== undefined) return known;
  let parsed;
  try {
    parsed = parseCertificateDer(cert.raw);
  } catch (error) {
    throw malformed(`certificate ${commonName(cert.subject)} is not DER X.509`, error);
  }
  const decoded = { subject: parsed.subject, issuer: parsed.issuer, key: parsed.subjectPublicKey };
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
  try {
    const extension = findExtension(parseCertificateDer(cert.raw), EXT_KEY_USAGE);
    if (extension === undefined) return [];
    return sequence(readDer(extension.value, "extKeyUsage"), "extKeyUsage").map((v) =>
      oid(v, "KeyPurposeId"),
    );
  } catch (error) {
    if (error instanceof DerError) return [];
    throw error;
  }
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
