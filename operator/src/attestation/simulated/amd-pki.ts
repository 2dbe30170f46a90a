/**
 * A simulated AMD key hierarchy (conceptually like go-sev-guest's fake certs): ARK-<product> -> SEV-<product> /
 * SEV-VLEK-<product> -> SEV-VCEK / SEV-VLEK, RSASSA-PSS SHA-384 salt 48 like AMD's, with AMD's VCEK extensions.
 * Only a verifier given these anchors explicitly (tests, `--test-trust-roots`) trusts it; the pinned ARKs never do.
 */
import * as asn1js from "asn1js";
import { createPublicKey, KeyObject, webcrypto } from "node:crypto";
import * as pkijs from "pkijs";
import { arrayBufferOf, commonNameDn, x509Time } from "../../crypto/x509-builder.ts";
import type { TrustAnchors } from "../snp/endorsement-chain.ts";
import { derToPem } from "../../crypto/pem.ts";
import type { SnpProduct, TcbComponent } from "../snp/tcb.ts";

type CryptoKey = webcrypto.CryptoKey;
const crypto = webcrypto;
pkijs.setEngine("node-webcrypto", new pkijs.CryptoEngine({ name: "node-webcrypto", crypto }));

export const AMD_RSA_PSS: webcrypto.RsaHashedKeyGenParams = {
  name: "RSA-PSS",
  modulusLength: 2048,
  publicExponent: new Uint8Array([1, 0, 1]),
  hash: "SHA-384",
};
const AMD_ARC = "1.3.6.1.4.1.3704.1";
const SPL_ARCS: Record<TcbComponent, string> = {
  bootloader: "3.1",
  tee: "3.2",
  snp: "3.3",
  microcode: "3.8",
  fmc: "3.9",
};

export type Validity = [notBefore: Date, notAfter: Date];
export type EndorsementKind = "vcek" | "vlek";

export interface AmdCaOptions {
  product?: SnpProduct;
  kind?: EndorsementKind;
  arkValidity?: Validity;
  askValidity?: Validity;
  /** Overrides the intermediate's CN (e.g. to issue a VCEK from an ASVK). */
  intermediateCn?: string;
}

/** ARK and the ASK (or ASVK) it signed; the ASK's private key issues leaves. */
export interface AmdCa {
  product: SnpProduct;
  arkPem: string;
  intermediatePem: string;
  intermediateCn: string;
  intermediateKey: CryptoKey;
  /** The ARK's private key, which signs the ASK/ASVK and AMD's CRL of them (not kept by a saved simulated PKI). */
  arkKey?: CryptoKey;
}

export interface AmdLeafOptions {
  kind?: EndorsementKind;
  spl?: Partial<Record<TcbComponent, number>>;
  hwId?: Uint8Array;
  productName?: string;
  leafValidity?: Validity;
  /** The leaf's ECDSA P-384 private key (a derived one); a fresh key otherwise. */
  leafKey?: KeyObject;
  /** The leaf's serial number (0 by default, as on AMD's VCEKs). */
  serial?: number;
}

export interface AmdLeaf {
  leafPem: string;
  leafDer: Uint8Array;
  /** ECDSA P-384 private key of the VCEK/VLEK, which signs reports. */
  leafKey: KeyObject;
}

export type FakePkiOptions = AmdCaOptions & AmdLeafOptions;

export interface FakeAmdPki extends AmdLeaf {
  product: SnpProduct;
  arkPem: string;
  intermediatePem: string;
  arkKey: CryptoKey;
  /** Anchors trusting only this ARK (and no built-in intermediates). */
  anchors: TrustAnchors;
}

export const DEFAULT_AMD_VALIDITY: Validity = [
  new Date("2020-01-01T00:00:00Z"),
  new Date("2040-01-01T00:00:00Z"),
];

function extension(oid: string, value: ArrayBuffer): pkijs.Extension {
  return new pkijs.Extension({ extnID: oid, critical: false, extnValue: value });
}

/** basicConstraints CA and keyUsage keyCertSign|cRLSign (critical), as on AMD's ARK and ASKs. */
function caExtensions(): pkijs.Extension[] {
  return [
    new pkijs.Extension({
      extnID: "2.5.29.19",
      critical: true,
      extnValue: new pkijs.BasicConstraints({ cA: true }).toSchema().toBER(),
    }),
    new pkijs.Extension({
      extnID: "2.5.29.15",
      critical: true,
      extnValue: new asn1js.BitString({ valueHex: new Uint8Array([0x06]).buffer, unusedBits: 1 }).toBER(),
    }),
  ];
}

function amdExtensions(options: AmdLeafOptions, productName: string): pkijs.Extension[] {
  const extensions = [
    extension(`${AMD_ARC}.1`, new asn1js.Integer({ value: 0 }).toBER()),
    extension(`${AMD_ARC}.2`, new asn1js.IA5String({ value: productName }).toBER()),
  ];
  for (const [component, spl] of Object.entries(options.spl ?? {})) {
    extensions.push(
      extension(
        `${AMD_ARC}.${SPL_ARCS[component as TcbComponent]}`,
        new asn1js.Integer({ value: spl }).toBER(),
      ),
    );
  }
  if (options.hwId !== undefined) extensions.push(extension(`${AMD_ARC}.4`, arrayBufferOf(options.hwId)));
  return extensions;
}

async function certificate(spec: {
  subject: string;
  issuer: string;
  serial: number;
  publicKey: CryptoKey;
  signer: CryptoKey;
  validity: Validity;
  extensions?: pkijs.Extension[];
}): Promise<Uint8Array> {
  const cert = new pkijs.Certificate();
  cert.version = 2;
  cert.serialNumber = new asn1js.Integer({ value: spec.serial });
  cert.subject = commonNameDn(spec.subject);
  cert.issuer = commonNameDn(spec.issuer);
  cert.notBefore.value = spec.validity[0];
  cert.notAfter.value = spec.validity[1];
  if (spec.extensions !== undefined) cert.extensions = spec.extensions;
  await cert.subjectPublicKeyInfo.importKey(spec.publicKey);
  await cert.sign(spec.signer, "SHA-384");
  return new Uint8Array(cert.toSchema().toBER());
}

export async function generateAmdCa(options: AmdCaOptions = {}): Promise<AmdCa & { arkKey: CryptoKey }> {
  const product = options.product ?? "Milan";
  const kind = options.kind ?? "vcek";
  const arkKeys = await crypto.subtle.generateKey(AMD_RSA_PSS, true, ["sign", "verify"]);
  const askKeys = await crypto.subtle.generateKey(AMD_RSA_PSS, true, ["sign", "verify"]);
  const arkCn = `ARK-${product}`;
  const askCn = options.intermediateCn ?? (kind === "vcek" ? `SEV-${product}` : `SEV-VLEK-${product}`);
  const ark = await certificate({
    subject: arkCn,
    issuer: arkCn,
    serial: 1,
    publicKey: arkKeys.publicKey,
    signer: arkKeys.privateKey,
    validity: options.arkValidity ?? DEFAULT_AMD_VALIDITY,
    extensions: caExtensions(),
  });
  const ask = await certificate({
    subject: askCn,
    issuer: arkCn,
    serial: 2,
    publicKey: askKeys.publicKey,
    signer: arkKeys.privateKey,
    validity: options.askValidity ?? DEFAULT_AMD_VALIDITY,
    extensions: caExtensions(),
  });
  return {
    product,
    arkPem: derToPem(ark),
    intermediatePem: derToPem(ask),
    intermediateCn: askCn,
    intermediateKey: askKeys.privateKey,
    arkKey: arkKeys.privateKey,
  };
}

/** AMD's CRL of a product's ASKs/ASVKs as KDS serves it: DER, signed by the ARK (RSASSA-PSS SHA-384). */
export async function issueAmdCrl(
  ca: { product: SnpProduct; arkKey: CryptoKey },
  options: { revokedSerials?: number[]; thisUpdate?: Date; nextUpdate?: Date } = {},
): Promise<Uint8Array> {
  const crl = new pkijs.CertificateRevocationList();
  crl.version = 1;
  crl.issuer = commonNameDn(`ARK-${ca.product}`);
  crl.thisUpdate = x509Time(options.thisUpdate ?? new Date("2024-01-01T00:00:00Z"));
  crl.nextUpdate = x509Time(options.nextUpdate ?? new Date("2039-01-01T00:00:00Z"));
  const revoked = options.revokedSerials ?? [];
  if (revoked.length > 0) {
    crl.revokedCertificates = revoked.map(
      (serial) =>
        new pkijs.RevokedCertificate({
          userCertificate: new asn1js.Integer({ value: serial }),
          revocationDate: x509Time(options.thisUpdate ?? new Date("2024-01-01T00:00:00Z")),
        }),
    );
  }
  await crl.sign(ca.arkKey, "SHA-384");
  return new Uint8Array((crl.toSchema(true) as asn1js.Sequence).toBER());
}

/** A VCEK/VLEK for one chip and TCB, signed by the CA's ASK/ASVK. */
export async function issueAmdLeaf(ca: AmdCa, options: AmdLeafOptions = {}): Promise<AmdLeaf> {
  const kind = options.kind ?? "vcek";
  const { publicKey, privateKey } = await leafKeyPair(options.leafKey);
  const leafDer = await certificate({
    subject: kind === "vcek" ? "SEV-VCEK" : "SEV-VLEK",
    issuer: ca.intermediateCn,
    serial: options.serial ?? 0,
    publicKey,
    signer: ca.intermediateKey,
    validity: options.leafValidity ?? DEFAULT_AMD_VALIDITY,
    extensions: amdExtensions(options, options.productName ?? ca.product),
  });
  return { leafPem: derToPem(leafDer), leafDer, leafKey: privateKey };
}

async function leafKeyPair(
  given: KeyObject | undefined,
): Promise<{ publicKey: CryptoKey; privateKey: KeyObject }> {
  const p384 = { name: "ECDSA", namedCurve: "P-384" };
  if (given === undefined) {
    const keys = await crypto.subtle.generateKey(p384, true, ["sign", "verify"]);
    return { publicKey: keys.publicKey, privateKey: KeyObject.from(keys.privateKey) };
  }
  const spki = createPublicKey(given).export({ format: "der", type: "spki" });
  return {
    publicKey: await crypto.subtle.importKey("spki", spki, p384, true, ["verify"]),
    privateKey: given,
  };
}

/** The anchors that trust exactly this ARK. */
export function amdAnchors(arkPem: string): TrustAnchors {
  return { arks: [arkPem], intermediates: [] };
}

/** A whole hierarchy with one leaf, for tests. */
export async function makeFakeAmdPki(options: FakePkiOptions = {}): Promise<FakeAmdPki> {
  const ca = await generateAmdCa(options);
  const leaf = await issueAmdLeaf(ca, options);
  return {
    ...leaf,
    product: ca.product,
    arkPem: ca.arkPem,
    intermediatePem: ca.intermediatePem,
    arkKey: ca.arkKey,
    anchors: amdAnchors(ca.arkPem),
  };
}
