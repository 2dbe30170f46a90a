/**
 * A simulated Intel SGX/TDX PKI: a root ("trustgate simulated SGX Root CA"), the PCK Platform CA and the TCB Signing
 * certificate under it, CRLs, and PCK leaf certificates with Intel's SGX extension (FMSPC, TCB component SVNs,
 * PCESVN) issued per simulated machine. The PCK CA and TCB Signing keep Intel's common names, which the verifier
 * requires; their organization names them as simulated. Only a verifier given this root explicitly trusts it.
 */
import * as asn1js from "asn1js";
import {
  createHash,
  createPublicKey,
  generateKeyPairSync,
  sign,
  X509Certificate,
  type KeyObject,
} from "node:crypto";
import * as pkijs from "pkijs";
import { arrayBufferOf, x509Time } from "../../crypto/x509-builder.ts";
import { deriveEcPrivateKey, deriveSerial } from "./derived-keys.ts";

const SGX = "1.2.840.113741.1.13.1";
const ECDSA_SHA256 = "1.2.840.10045.4.3.2";

export const SIMULATED_INTEL_ORGANIZATION = "trustgate simulated PKI - TESTS ONLY - not Intel";
export const SIMULATED_SGX_ROOT_CN = "trustgate simulated SGX Root CA";
export const PCK_PLATFORM_CA_CN = "Intel SGX PCK Platform CA";
export const TCB_SIGNING_CN = "Intel SGX TCB Signing";
export const PCK_LEAF_CN = "Intel SGX PCK Certificate";

const DEFAULT_VALIDITY: [Date, Date] = [new Date("2020-01-01T00:00:00Z"), new Date("2045-01-01T00:00:00Z")];

export interface IntelIdentity {
  /** The subject's common name. */
  name: string;
  keys: { publicKey: KeyObject; privateKey: KeyObject };
  certificate: X509Certificate;
  /** Lowercase hex, as a CRL lists it. */
  serial: string;
}

export interface IssueOptions {
  ca: boolean;
  extensions?: pkijs.Extension[];
  notBefore?: Date;
  notAfter?: Date;
  /** Signs instead of the issuer's key (a forged certificate). */
  signer?: KeyObject;
  /** The subject's private key; a fresh P-256 key otherwise. */
  key?: KeyObject;
  serial?: Uint8Array;
  /** An organizationName after the commonName. */
  organization?: string;
}

/** The TCB a PCK certificate is issued for (SGX extension). */
export interface PckTcbSpec {
  fmspc: string;
  sgxComponents: readonly number[];
  pceSvn: number;
}

/** The simulated Intel CAs. The root's key is not kept on disk: the root CA CRL is signed once, at creation. */
export interface IntelCa {
  root: X509Certificate;
  pckCa: IntelIdentity;
  tcbSigner: IntelIdentity;
  /** DER, signed by the root. */
  rootCaCrl: Uint8Array;
  /** Only right after generation (tests that need more root-signed objects). */
  rootKey?: KeyObject;
}

/** CN, then O, each its own RDN (pkijs would put attributes given together into one multi-valued RDN). */
function distinguishedName(commonName: string, organization?: string): pkijs.RelativeDistinguishedNames {
  const rdn = (type: string, value: string): asn1js.Set =>
    new asn1js.Set({
      value: [new pkijs.AttributeTypeAndValue({ type, value: new asn1js.Utf8String({ value }) }).toSchema()],
    });
  const name = new asn1js.Sequence({
    value: [
      rdn("2.5.4.3", commonName),
      ...(organization === undefined ? [] : [rdn("2.5.4.10", organization)]),
    ],
  });
  return pkijs.RelativeDistinguishedNames.fromBER(name.toBER());
}

/** The subject of a certificate exactly as encoded: what a certificate or CRL it issues must name. */
function subjectOf(certificate: X509Certificate): pkijs.RelativeDistinguishedNames {
  return pkijs.Certificate.fromBER(certificate.raw).subject;
}

function keyUsage(ca: boolean): pkijs.Extension {
  // keyCertSign|cRLSign for CAs, digitalSignature|nonRepudiation otherwise (as on Intel's certificates).
  const bits = ca
    ? new asn1js.BitString({ valueHex: arrayBufferOf(Uint8Array.of(0x06)), unusedBits: 1 })
    : new asn1js.BitString({ valueHex: arrayBufferOf(Uint8Array.of(0xc0)), unusedBits: 6 });
  return new pkijs.Extension({ extnID: "2.5.29.15", critical: true, extnValue: bits.toBER() });
}

/** Intel's SGX extension of a PCK certificate: PPID, TCB (16 component SVNs, PCESVN, CPUSVN), PCE-ID, FMSPC. */
export function sgxExtension(
  fmspc: string,
  sgxComponents: readonly number[],
  pceSvn: number,
  ppid: Uint8Array = new Uint8Array(16),
): pkijs.Extension {
  const entry = (oid: string, value: asn1js.BaseBlock): asn1js.Sequence =>
    new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: oid }), value] });
  const octets = (bytes: Uint8Array): asn1js.OctetString =>
    new asn1js.OctetString({ valueHex: arrayBufferOf(bytes) });
  const tcb = new asn1js.Sequence({
    value: [
      ...sgxComponents.map((svn, i) => entry(`${SGX}.2.${i + 1}`, new asn1js.Integer({ value: svn }))),
      entry(`${SGX}.2.17`, new asn1js.Integer({ value: pceSvn })),
      entry(`${SGX}.2.18`, octets(Uint8Array.from(sgxComponents))),
    ],
  });
  const value = new asn1js.Sequence({
    value: [
      entry(`${SGX}.1`, octets(ppid)),
      entry(`${SGX}.2`, tcb),
      entry(`${SGX}.3`, octets(new Uint8Array(2))),
      entry(`${SGX}.4`, octets(Buffer.from(fmspc, "hex"))),
      entry(`${SGX}.5`, new asn1js.Enumerated({ value: 0 })),
    ],
  });
  return new pkijs.Extension({ extnID: SGX, critical: false, extnValue: value.toBER() });
}

function signatureOf(tbs: Uint8Array, signer: KeyObject): asn1js.BitString {
  return new asn1js.BitString({ valueHex: arrayBufferOf(sign("sha256", tbs, signer)) });
}

let nextSerial = 0x1000;

function serialBytes(serial: Uint8Array | undefined): Uint8Array {
  if (serial !== undefined) return serial;
  const counter = nextSerial++;
  return Uint8Array.of(0x10, (counter >> 16) & 0xff, (counter >> 8) & 0xff, counter & 0xff);
}

/** An ECDSA P-256 / SHA-256 certificate issued by `issuer`, or self-signed without one. */
export function issueIntelCertificate(
  commonName: string,
  issuer: IntelIdentity | undefined,
  options: IssueOptions,
): IntelIdentity {
  const privateKey = options.key ?? generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
  const keys = { privateKey, publicKey: createPublicKey(privateKey) };
  const serial = serialBytes(options.serial);
  const subject = distinguishedName(commonName, options.organization);
  const certificate = new pkijs.Certificate();
  certificate.version = 2;
  certificate.serialNumber = new asn1js.Integer({ valueHex: arrayBufferOf(serial) });
  certificate.issuer = issuer === undefined ? subject : subjectOf(issuer.certificate);
  certificate.subject = subject;
  certificate.notBefore = x509Time(options.notBefore ?? DEFAULT_VALIDITY[0]);
  certificate.notAfter = x509Time(options.notAfter ?? DEFAULT_VALIDITY[1]);
  certificate.subjectPublicKeyInfo = pkijs.PublicKeyInfo.fromBER(
    keys.publicKey.export({ format: "der", type: "spki" }),
  );
  certificate.extensions = [
    new pkijs.Extension({
      extnID: "2.5.29.19",
      critical: true,
      extnValue: new pkijs.BasicConstraints({ cA: options.ca }).toSchema().toBER(),
    }),
    keyUsage(options.ca),
    ...(options.extensions ?? []),
  ];
  certificate.signature = new pkijs.AlgorithmIdentifier({ algorithmId: ECDSA_SHA256 });
  certificate.signatureAlgorithm = new pkijs.AlgorithmIdentifier({ algorithmId: ECDSA_SHA256 });
  certificate.tbsView = new Uint8Array(certificate.encodeTBS().toBER());
  const signer = options.signer ?? issuer?.keys.privateKey ?? keys.privateKey;
  certificate.signatureValue = signatureOf(certificate.tbsView, signer);
  return {
    name: commonName,
    keys,
    serial: Buffer.from(serial)
      .toString("hex")
      .replace(/^0+(?=.)/, ""),
    certificate: new X509Certificate(Buffer.from(certificate.toSchema(true).toBER())),
  };
}

export interface CrlOptions {
  /** Serials (hex) of revoked certificates. */
  revokedSerials?: readonly string[];
  thisUpdate?: Date;
  nextUpdate?: Date;
  /** Signs instead of the issuer's key (a forged CRL). */
  signer?: KeyObject;
}

/** A DER CRL issued by `issuer` (ECDSA P-256 / SHA-256, as Intel's). */
export function issueIntelCrl(
  issuer: Pick<IntelIdentity, "certificate" | "keys">,
  options: CrlOptions = {},
): Uint8Array {
  const thisUpdate = options.thisUpdate ?? new Date("2025-01-01T00:00:00Z");
  const list = new pkijs.CertificateRevocationList();
  list.version = 1;
  list.issuer = subjectOf(issuer.certificate);
  list.thisUpdate = x509Time(thisUpdate);
  list.nextUpdate = x509Time(options.nextUpdate ?? new Date("2030-01-01T00:00:00Z"));
  const revoked = options.revokedSerials ?? [];
  if (revoked.length > 0) {
    list.revokedCertificates = revoked.map(
      (serial) =>
        new pkijs.RevokedCertificate({
          userCertificate: new asn1js.Integer({
            valueHex: arrayBufferOf(Buffer.from(serial.length % 2 === 0 ? serial : `0${serial}`, "hex")),
          }),
          revocationDate: x509Time(thisUpdate),
        }),
    );
  }
  list.signature = new pkijs.AlgorithmIdentifier({ algorithmId: ECDSA_SHA256 });
  list.signatureAlgorithm = new pkijs.AlgorithmIdentifier({ algorithmId: ECDSA_SHA256 });
  // pkijs keeps CertificateRevocationList.encodeTBS protected (unlike Certificate's); it is what sign() uses.
  const tbs = (list as unknown as { encodeTBS(): asn1js.Sequence }).encodeTBS();
  list.tbsView = new Uint8Array(tbs.toBER());
  list.signatureValue = signatureOf(list.tbsView, options.signer ?? issuer.keys.privateKey);
  return new Uint8Array((list.toSchema(true) as asn1js.Sequence).toBER());
}

/** Certificates as one PEM text, in the order given (leaf first for a chain). */
export function pemChain(...certificates: X509Certificate[]): string {
  return certificates.map((certificate) => certificate.toString()).join("");
}

/** A fresh simulated Intel PKI: root, PCK Platform CA, TCB Signing, and a root CA CRL revoking nothing. */
export function generateIntelCa(options: { now?: Date } = {}): IntelCa {
  const now = options.now ?? new Date();
  const organization = SIMULATED_INTEL_ORGANIZATION;
  const root = issueIntelCertificate(SIMULATED_SGX_ROOT_CN, undefined, { ca: true, organization });
  const pckCa = issueIntelCertificate(PCK_PLATFORM_CA_CN, root, { ca: true, organization });
  const tcbSigner = issueIntelCertificate(TCB_SIGNING_CN, root, { ca: false, organization });
  const rootCaCrl = issueIntelCrl(root, {
    thisUpdate: new Date(now.getTime() - 24 * 3600_000),
    nextUpdate: new Date(now.getTime() + 5 * 365 * 24 * 3600_000),
  });
  return { root: root.certificate, pckCa, tcbSigner, rootCaCrl, rootKey: root.keys.privateKey };
}

/** An identity from its certificate and private key (a CA read back from a simulated PKI directory). */
export function intelIdentity(certificate: X509Certificate, privateKey: KeyObject): IntelIdentity {
  const name = /(?:^|\n)CN=([^\n]*)/.exec(certificate.subject)?.[1] ?? "";
  const serial = certificate.serialNumber.toLowerCase().replace(/^0+(?=.)/, "");
  return { name, keys: { privateKey, publicKey: certificate.publicKey }, certificate, serial };
}

const pckCaSecrets = new WeakMap<KeyObject, Buffer>();

function secretOf(key: KeyObject): Buffer {
  let secret = pckCaSecrets.get(key);
  if (secret === undefined) {
    secret = createHash("sha384")
      .update(key.export({ format: "der", type: "pkcs8" }))
      .digest();
    pckCaSecrets.set(key, secret);
  }
  return secret;
}

/** The serial of the PCK certificate of a simulated machine (what a PCK CRL lists to revoke it). */
export function simulatedPckSerial(intel: Pick<IntelCa, "pckCa">, machine: string): string {
  const serial = deriveSerial(intel.pckCa.certificate.raw, `PCK ${machine}`);
  return Buffer.from(serial).toString("hex");
}

/**
 * The PCK certificate of a simulated machine: the same key and serial every time for the same CA and machine (the
 * key is derived from the PCK CA key), a fixed validity, and the SGX extension for `tcb`.
 */
export function issuePckLeaf(intel: Pick<IntelCa, "pckCa">, machine: string, tcb: PckTcbSpec): IntelIdentity {
  const key = deriveEcPrivateKey("P-256", secretOf(intel.pckCa.keys.privateKey), `PCK\0${machine}`);
  const ppid = createHash("sha256").update(`trustgate simulated PPID\0${machine}`).digest().subarray(0, 16);
  return issueIntelCertificate(PCK_LEAF_CN, intel.pckCa, {
    ca: false,
    key,
    serial: Buffer.from(simulatedPckSerial(intel, machine), "hex"),
    organization: SIMULATED_INTEL_ORGANIZATION,
    extensions: [sgxExtension(tcb.fmspc, tcb.sgxComponents, tcb.pceSvn, ppid)],
  });
}
