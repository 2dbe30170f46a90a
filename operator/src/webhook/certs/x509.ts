// X.509 issuing for the webhook's self-managed certificates: an ECDSA P-256 CA and serving certificates,
// built with pkijs (structures) and node:crypto (keys, signatures).
import * as asn1js from "asn1js";
import {
  createHash,
  createPrivateKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  X509Certificate,
} from "node:crypto";
import { isIP } from "node:net";
import * as pkijs from "pkijs";
import { arrayBufferOf, commonNameDn, derExtension, x509Time } from "../../crypto/x509-builder.ts";

const ECDSA_SHA256 = "1.2.840.10045.4.3.2";
const SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
const EXT = {
  subjectKeyIdentifier: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  authorityKeyIdentifier: "2.5.29.35",
  extKeyUsage: "2.5.29.37",
} as const;
/** keyUsage bits, numbered from the most significant bit of the first byte (RFC 5280 4.2.1.3). */
const DIGITAL_SIGNATURE = 0;
const KEY_CERT_SIGN = 5;
const CRL_SIGN = 6;

/** A certificate and its private key, both PEM. */
export interface KeyPairPem {
  certPem: string;
  keyPem: string;
}

export interface CertificateSpec {
  commonName: string;
  ca: boolean;
  notBefore: Date;
  notAfter: Date;
  /** Subject alternative names: DNS names, or IP addresses (v4/v6). */
  sans?: readonly string[];
  /** Signs the certificate; self-signed when absent. */
  issuer?: KeyPairPem;
}

/** A DER BIT STRING with the given bits set and the trailing unused bits counted (DER minimal form). */
function keyUsage(bits: readonly number[]): asn1js.BitString {
  const last = Math.max(...bits);
  const bytes = new Uint8Array(Math.floor(last / 8) + 1);
  for (const bit of bits) bytes[bit >> 3] = (bytes[bit >> 3] ?? 0) | (0x80 >> (bit & 7));
  return new asn1js.BitString({ valueHex: arrayBufferOf(bytes), unusedBits: 7 - (last & 7) });
}

function ipBytes(ip: string): Uint8Array {
  if (isIP(ip) === 4) return Uint8Array.from(ip.split(".").map(Number));
  // IPv6: expand "::" and write 8 groups of 16 bits.
  const [head = "", tail] = ip.split("::");
  const groups = (part: string): string[] => (part === "" ? [] : part.split(":"));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right];
  return Uint8Array.from(all.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]));
}

function generalName(san: string): pkijs.GeneralName {
  return isIP(san) === 0
    ? new pkijs.GeneralName({ type: 2, value: san })
    : new pkijs.GeneralName({
        type: 7,
        value: new asn1js.OctetString({ valueHex: arrayBufferOf(ipBytes(san)) }),
      });
}

/** RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
function keyIdentifier(spki: pkijs.PublicKeyInfo): Uint8Array {
  return createHash("sha1").update(spki.subjectPublicKey.valueBlock.valueHexView).digest();
}

/**
 * A positive serial in minimal DER from random bytes: the top bit cleared (positive) and the first byte never
 * zero (a leading 0x00 before a byte below 0x80 is not minimal DER, and OpenSSL refuses the certificate).
 */
export function serialFromRandom(random: Uint8Array): Uint8Array {
  const bytes = Uint8Array.from(random);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01;
  return bytes;
}

function serialNumber(): asn1js.Integer {
  return new asn1js.Integer({ valueHex: arrayBufferOf(serialFromRandom(randomBytes(16))) });
}

/** Issues a certificate for a fresh P-256 key: a CA (keyCertSign, cRLSign) or a TLS server certificate. */
export function issueCertificate(spec: CertificateSpec): KeyPairPem {
  if (!(spec.notAfter.getTime() > spec.notBefore.getTime())) {
    throw new Error(`certificate ${spec.commonName}: notAfter must be after notBefore`);
  }
  const keys = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const spki = pkijs.PublicKeyInfo.fromBER(keys.publicKey.export({ format: "der", type: "spki" }));
  const issuerCert = spec.issuer === undefined ? undefined : new X509Certificate(spec.issuer.certPem);
  const issuerSpki =
    issuerCert === undefined
      ? spki
      : pkijs.PublicKeyInfo.fromBER(issuerCert.publicKey.export({ format: "der", type: "spki" }));
  const issuerName =
    issuerCert === undefined
      ? commonNameDn(spec.commonName)
      : pkijs.Certificate.fromBER(issuerCert.raw).subject;

  const cert = new pkijs.Certificate();
  cert.version = 2;
  cert.serialNumber = serialNumber();
  cert.issuer = issuerName;
  cert.subject = commonNameDn(spec.commonName);
  cert.notBefore = x509Time(spec.notBefore);
  cert.notAfter = x509Time(spec.notAfter);
  cert.subjectPublicKeyInfo = spki;
  const sans = spec.sans ?? [];
  cert.extensions = [
    derExtension(EXT.basicConstraints, true, new pkijs.BasicConstraints({ cA: spec.ca }).toSchema()),
    derExtension(EXT.keyUsage, true, keyUsage(spec.ca ? [KEY_CERT_SIGN, CRL_SIGN] : [DIGITAL_SIGNATURE])),
    derExtension(
      EXT.subjectKeyIdentifier,
      false,
      new asn1js.OctetString({ valueHex: arrayBufferOf(keyIdentifier(spki)) }),
    ),
    derExtension(
      EXT.authorityKeyIdentifier,
      false,
      new pkijs.AuthorityKeyIdentifier({
        keyIdentifier: new asn1js.OctetString({ valueHex: arrayBufferOf(keyIdentifier(issuerSpki)) }),
      }).toSchema(),
    ),
    ...(spec.ca
      ? []
      : [
          derExtension(
            EXT.extKeyUsage,
            false,
            new pkijs.ExtKeyUsage({ keyPurposes: [SERVER_AUTH] }).toSchema(),
          ),
        ]),
    ...(sans.length === 0
      ? []
      : [
          derExtension(
            EXT.subjectAltName,
            false,
            new pkijs.AltName({ altNames: sans.map(generalName) }).toSchema(),
          ),
        ]),
  ];
  cert.signature = new pkijs.AlgorithmIdentifier({ algorithmId: ECDSA_SHA256 });
  cert.signatureAlgorithm = new pkijs.AlgorithmIdentifier({ algorithmId: ECDSA_SHA256 });
  const tbs = new Uint8Array(cert.encodeTBS().toBER());
  const signer = spec.issuer === undefined ? keys.privateKey : createPrivateKey(spec.issuer.keyPem);
  cert.signatureValue = new asn1js.BitString({ valueHex: arrayBufferOf(sign("sha256", tbs, signer)) });
  const der = Buffer.from(cert.toSchema(true).toBER());
  return {
    certPem: new X509Certificate(der).toString(),
    keyPem: keys.privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
  };
}

/** What the rotation decisions need to know about one certificate. */
export interface CertificateFacts {
  subject: string;
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  ca: boolean;
  /** DNS names and IP addresses, sorted. */
  sans: string[];
  fingerprint: string;
}

export function certificateFacts(pem: string): CertificateFacts {
  const cert = new X509Certificate(pem);
  const sans = (cert.subjectAltName ?? "")
    .split(", ")
    .filter((entry) => entry.startsWith("DNS:") || entry.startsWith("IP Address:"))
    .map((entry) => normalizeSan(entry.replace(/^DNS:|^IP Address:/, "")))
    .sort();
  return {
    subject: cert.subject,
    issuer: cert.issuer,
    notBefore: cert.validFromDate,
    notAfter: cert.validToDate,
    ca: cert.ca,
    sans,
    fingerprint: cert.fingerprint256,
  };
}

/** One spelling per name: lowercase DNS names, IPv6 addresses as 8 groups without leading zeros. */
export function normalizeSan(san: string): string {
  if (isIP(san) !== 6) return san.toLowerCase();
  const bytes = ipBytes(san);
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  return groups.join(":");
}

/** Splits a PEM bundle into its certificates (each with its END line). */
export function splitPemBundle(bundle: string): string[] {
  return [...bundle.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)].map(
    (m) => `${m[0]}\n`,
  );
}

/** Whether `leaf` was signed by `ca`'s key and its private key matches. */
export function leafMatches(leaf: KeyPairPem, caPem: string): boolean {
  try {
    const cert = new X509Certificate(leaf.certPem);
    return (
      cert.verify(new X509Certificate(caPem).publicKey) && cert.checkPrivateKey(createPrivateKey(leaf.keyPem))
    );
  } catch {
    return false;
  }
}
