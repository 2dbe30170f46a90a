/**
 * The parts of an X.509 certificate (RFC 5280 4.1) that verifiers read beyond node:crypto's X509Certificate:
 * the signature algorithm with its parameters, the DER of issuer and subject names, the subject key's bits and the
 * extensions. Read with the strict DER reader; signatures are node:crypto's business, not this file's.
 */
import {
  bitString,
  boolean,
  children,
  contextTag,
  type DerNode,
  DerError,
  expectTag,
  explicit,
  integerBytes,
  octetString,
  oid,
  readDer,
  sequence,
  TAG,
} from "./der.ts";

export interface X509Extension {
  oid: string;
  critical: boolean;
  /** The extnValue OCTET STRING's content: the DER of the extension's own value. */
  value: Uint8Array;
}

export interface AlgorithmIdentifier {
  oid: string;
  parameters?: DerNode;
}

export interface CertificateDer {
  tbs: Uint8Array;
  serial: Uint8Array;
  signatureAlgorithm: AlgorithmIdentifier;
  /** The DER of the issuer and subject Names (what OCSP CertIDs and ResponderIDs hash). */
  issuer: Uint8Array;
  subject: Uint8Array;
  /** subjectPublicKeyInfo's BIT STRING bits (what a KeyHash hashes). */
  subjectPublicKey: Uint8Array;
  subjectPublicKeyInfo: Uint8Array;
  extensions: X509Extension[];
}

export function algorithmIdentifier(node: DerNode | undefined, what: string): AlgorithmIdentifier {
  const [id, parameters, extra] = sequence(node, what);
  if (extra !== undefined) throw new DerError(`${what}: more than an algorithm and its parameters`);
  return { oid: oid(id, `${what} algorithm`), ...(parameters === undefined ? {} : { parameters }) };
}

function extensionsOf(node: DerNode, what: string): X509Extension[] {
  const seen = new Set<string>();
  return sequence(explicit(node, what), what).map((entry) => {
    const parts = sequence(entry, `${what} entry`);
    const id = oid(parts[0], `${what} extnID`);
    const hasCritical = parts.length === 3;
    if (parts.length !== 2 && !hasCritical) throw new DerError(`${what} ${id}: ${parts.length} fields`);
    const critical = hasCritical ? boolean(parts[1], `${what} ${id} critical`) : false;
    if (seen.has(id)) throw new DerError(`${what}: ${id} appears twice`);
    seen.add(id);
    return { oid: id, critical, value: octetString(parts[hasCritical ? 2 : 1], `${what} ${id} extnValue`) };
  });
}

export function parseCertificateDer(der: Uint8Array, what = "certificate"): CertificateDer {
  const [tbsNode, signatureAlgorithm, signatureValue, extra] = sequence(readDer(der, what), what);
  if (extra !== undefined) throw new DerError(`${what}: more than three fields`);
  expectTag(signatureValue, TAG.BIT_STRING, `${what} signatureValue`);
  const tbs = expectTag(tbsNode, TAG.SEQUENCE, `${what} tbsCertificate`);
  const fields = children(tbs, `${what} tbsCertificate`);
  let i = 0;
  if (fields[0]?.tag === contextTag(0, true)) i = 1; // version [0] EXPLICIT
  const serial = integerBytes(fields[i], `${what} serialNumber`);
  const innerAlgorithm = algorithmIdentifier(fields[i + 1], `${what} signature`);
  const outerAlgorithm = algorithmIdentifier(signatureAlgorithm, `${what} signatureAlgorithm`);
  if (
    innerAlgorithm.oid !== outerAlgorithm.oid ||
    !sameBytes(innerAlgorithm.parameters?.der, outerAlgorithm.parameters?.der)
  )
    throw new DerError(`${what}: the signed and outer signature algorithms differ`);
  const issuer = expectTag(fields[i + 2], TAG.SEQUENCE, `${what} issuer`).der;
  sequence(fields[i + 3], `${what} validity`);
  const subject = expectTag(fields[i + 4], TAG.SEQUENCE, `${what} subject`).der;
  const spki = sequence(fields[i + 5], `${what} subjectPublicKeyInfo`);
  const subjectPublicKey = bitString(spki[1], `${what} subjectPublicKey`).bits;
  let extensions: X509Extension[] = [];
  for (const field of fields.slice(i + 6)) {
    if (field.tag === contextTag(1, false) || field.tag === contextTag(2, false)) continue; // unique IDs
    if (field.tag !== contextTag(3, true))
      throw new DerError(`${what} tbsCertificate: unexpected field with tag 0x${field.tag.toString(16)}`);
    extensions = extensionsOf(field, `${what} extensions`);
  }
  return {
    tbs: tbs.der,
    serial,
    signatureAlgorithm: outerAlgorithm,
    issuer,
    subject,
    subjectPublicKey,
    subjectPublicKeyInfo: (fields[i + 5] as DerNode).der,
    extensions,
  };
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

export function findExtension(cert: CertificateDer, id: string): X509Extension | undefined {
  return cert.extensions.find((e) => e.oid === id);
}
