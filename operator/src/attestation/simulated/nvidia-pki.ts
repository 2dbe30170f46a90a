/**
 * A simulated look-alike of NVIDIA's device PKI: "NVIDIA Device Identity CA" -> "NVIDIA GH100 Identity" ->
 * provisioner ICA -> device (BROM) -> attestation leaf (FMC LF), all ECDSA P-384/SHA-384 with NVIDIA's critical
 * keyUsage/basicConstraints and a TCB-info FWID extension on the leaf. Only a verifier given its root explicitly
 * (tests, `--test-trust-roots`) trusts it; the pinned NVIDIA root never does (ChainInvalid).
 */
import * as asn1js from "asn1js";
import { createPrivateKey, generateKeyPairSync, sign, X509Certificate, type KeyObject } from "node:crypto";
import * as pkijs from "pkijs";
import { arrayBufferOf, commonNameDn, derExtension, x509Time } from "../../crypto/x509-builder.ts";
import type { GpuTrustAnchors } from "../gpu/device-chain.ts";

const ECDSA_SHA384 = "1.2.840.10045.4.3.3";
const SHA384 = "2.16.840.1.101.3.4.2.2";
const KEY_CERT_SIGN = 0x04;
const DIGITAL_SIGNATURE = 0x80;

export type Validity = [notBefore: Date, notAfter: Date];

export interface FakeCertificate {
  name: string;
  keys: { publicKey: KeyObject; privateKey: KeyObject };
  certificate: X509Certificate;
}

export interface FakeLeafOptions {
  /** Leaf CN; default `GH100 A01 GSP FMC LF`. */
  leafName?: string;
  /** Device (BROM) CN; default `GH100 A01 GSP BROM`. */
  deviceName?: string;
  /** FWID carried by the leaf; undefined = no TCB-info extension. */
  fwid?: Uint8Array;
  /** `hopper`: 2.23.133.5.4.1 with NVIDIA's layout; `dice`: 2.23.133.5.4.1.1 DiceTcbInfo with fields after fwids. */
  fwidLayout?: "hopper" | "dice";
  ueid?: Uint8Array;
  leafValidity?: Validity;
  /** Extra critical extension on the leaf (to test unknown critical extensions). */
  criticalExtension?: string;
  /** The leaf's serial number: a number, or big-endian bytes (a device identity). */
  serial?: number | Uint8Array;
}

/** Root and GH100 identity CA (certificates only) and the provisioner ICA, whose key issues devices. */
export interface NvidiaCa {
  root: X509Certificate;
  identity: X509Certificate;
  ica: FakeCertificate;
  /** Delegated OCSP responders of the root, the identity CA and the ICA (simulated-ocsp.ts). */
  ocspResponders?: FakeCertificate[];
}

export interface NvidiaDevice {
  /** Leaf, device, ICA, identity, root (PEM), like the chain a GPU reports. */
  chainPem: string;
  leafKey: KeyObject;
}

export interface FakeNvidiaPki extends NvidiaDevice {
  root: FakeCertificate;
  anchors: GpuTrustAnchors;
}

const DEFAULT_VALIDITY: Validity = [new Date("2021-01-01T00:00:00Z"), new Date("9999-12-31T23:59:59Z")];

const keyUsage = (bits: number): asn1js.BitString =>
  new asn1js.BitString({ valueHex: new Uint8Array([bits]).buffer, unusedBits: 0 });

function fwidSequence(digest: Uint8Array): asn1js.Sequence {
  return new asn1js.Sequence({
    value: [
      new asn1js.ObjectIdentifier({ value: SHA384 }),
      new asn1js.OctetString({ valueHex: arrayBufferOf(digest) }),
    ],
  });
}

export function tcbInfoExtension(
  fwid: Uint8Array,
  layout: "hopper" | "dice",
  leafSpki: Uint8Array,
): pkijs.Extension {
  if (layout === "hopper") {
    const spki = asn1js.fromBER(arrayBufferOf(leafSpki)).result;
    return derExtension(
      "2.23.133.5.4.1",
      false,
      new asn1js.Sequence({ value: [new asn1js.Integer({ value: 1 }), spki, fwidSequence(fwid)] }),
    );
  }
  const implicit = (tagNumber: number, value: asn1js.BaseBlock[]): asn1js.Constructed =>
    new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber }, value });
  const vendor = new asn1js.Primitive({
    idBlock: { tagClass: 3, tagNumber: 0 },
    valueHex: new TextEncoder().encode("NVIDIA").buffer,
  });
  const flags = new asn1js.Primitive({
    idBlock: { tagClass: 3, tagNumber: 7 },
    valueHex: new Uint8Array([0, 0]).buffer,
  });
  const other = fwidSequence(new Uint8Array(48).fill(0xee));
  return derExtension(
    "2.23.133.5.4.1.1",
    false,
    new asn1js.Sequence({ value: [vendor, implicit(6, [fwidSequence(fwid), other]), flags] }),
  );
}

let nextSerial = 0x4000;

function serialNumber(serial: number | Uint8Array | undefined): asn1js.Integer {
  if (serial instanceof Uint8Array) {
    // DER INTEGER: positive, so a leading 0x00 when the top bit is set.
    const bytes = (serial[0] ?? 0) & 0x80 ? Uint8Array.from([0, ...serial]) : serial;
    return new asn1js.Integer({ valueHex: arrayBufferOf(bytes) });
  }
  return new asn1js.Integer({ value: serial ?? nextSerial++ });
}

export function issueCertificate(
  commonName: string,
  issuer: FakeCertificate | undefined,
  options: {
    ca: boolean;
    validity?: Validity;
    extensions?: (spki: Uint8Array) => pkijs.Extension[];
    serial?: number | Uint8Array;
  },
): FakeCertificate {
  const keys = generateKeyPairSync("ec", { namedCurve: "P-384" });
  const spki = keys.publicKey.export({ format: "der", type: "spki" });
  const [notBefore, notAfter] = options.validity ?? DEFAULT_VALIDITY;
  const cert = new pkijs.Certificate();
  cert.version = 2;
  cert.serialNumber = serialNumber(options.serial);
  cert.issuer = commonNameDn(issuer?.name ?? commonName);
  cert.subject = commonNameDn(commonName);
  cert.notBefore = x509Time(notBefore);
  cert.notAfter = x509Time(notAfter);
  cert.subjectPublicKeyInfo = pkijs.PublicKeyInfo.fromBER(spki);
  cert.extensions = [
    ...(options.ca
      ? [derExtension("2.5.29.19", true, new pkijs.BasicConstraints({ cA: true }).toSchema())]
      : []),
    derExtension("2.5.29.15", true, keyUsage(options.ca ? KEY_CERT_SIGN : DIGITAL_SIGNATURE)),
    ...(options.extensions?.(spki) ?? []),
  ];
  cert.signature = new pkijs.AlgorithmIdentifier({ algorithmId: ECDSA_SHA384 });
  cert.signatureAlgorithm = new pkijs.AlgorithmIdentifier({ algorithmId: ECDSA_SHA384 });
  cert.tbsView = new Uint8Array(cert.encodeTBS().toBER());
  const signer = issuer?.keys.privateKey ?? keys.privateKey;
  cert.signatureValue = new asn1js.BitString({
    valueHex: Uint8Array.from(sign("sha384", cert.tbsView, signer)).buffer,
  });
  return {
    name: commonName,
    keys,
    certificate: new X509Certificate(Buffer.from(cert.toSchema(true).toBER())),
  };
}

/** A CA certificate and its private key (PEM), e.g. read back from a simulated PKI directory. */
export function fakeCertificateFromPem(certificatePem: string, privateKeyPem: string): FakeCertificate {
  const certificate = new X509Certificate(certificatePem);
  const commonName = /(?:^|\n)CN=([^\n]*)/.exec(certificate.subject)?.[1];
  if (commonName === undefined) throw new Error(`certificate ${certificate.subject} has no CN`);
  return {
    name: commonName,
    keys: { publicKey: certificate.publicKey, privateKey: createPrivateKey(privateKeyPem) },
    certificate,
  };
}

/** Root, GH100 identity CA and provisioner ICA, with their keys. */
export function generateNvidiaHierarchy(): {
  root: FakeCertificate;
  identity: FakeCertificate;
  ica: FakeCertificate;
} {
  const root = issueCertificate("NVIDIA Device Identity CA", undefined, { ca: true });
  const identity = issueCertificate("NVIDIA GH100 Identity", root, { ca: true });
  const ica = issueCertificate("NVIDIA GH100 Provisioner ICA 1", identity, { ca: true });
  return { root, identity, ica };
}

export function generateNvidiaCa(
  options: { ocspResponders?: (ca: FakeCertificate) => FakeCertificate } = {},
): NvidiaCa {
  const { root, identity, ica } = generateNvidiaHierarchy();
  const responders = options.ocspResponders;
  return {
    root: root.certificate,
    identity: identity.certificate,
    ica,
    ...(responders === undefined ? {} : { ocspResponders: [root, identity, ica].map(responders) }),
  };
}

/** One device: its identity (BROM) certificate and attestation leaf, issued by the CA's provisioner ICA. */
export function issueNvidiaDevice(ca: NvidiaCa, options: FakeLeafOptions = {}): NvidiaDevice {
  const device = issueCertificate(options.deviceName ?? "GH100 A01 GSP BROM", ca.ica, { ca: true });
  const leaf = issueCertificate(options.leafName ?? "GH100 A01 GSP FMC LF", device, {
    ca: false,
    ...(options.leafValidity === undefined ? {} : { validity: options.leafValidity }),
    ...(options.serial === undefined ? {} : { serial: options.serial }),
    extensions: (spki) => [
      ...(options.fwid === undefined
        ? []
        : [tcbInfoExtension(options.fwid, options.fwidLayout ?? "hopper", spki)]),
      ...(options.ueid === undefined
        ? []
        : [
            derExtension(
              "2.23.133.5.4.4",
              false,
              new asn1js.Sequence({
                value: [new asn1js.OctetString({ valueHex: arrayBufferOf(options.ueid) })],
              }),
            ),
          ]),
      ...(options.criticalExtension === undefined
        ? []
        : [derExtension(options.criticalExtension, true, new asn1js.Null())]),
    ],
  });
  const chain = [leaf.certificate, device.certificate, ca.ica.certificate, ca.identity, ca.root];
  return { chainPem: chain.map((c) => c.toString()).join(""), leafKey: leaf.keys.privateKey };
}

export function nvidiaAnchors(rootPem: string): GpuTrustAnchors {
  return { roots: [rootPem] };
}

/** A whole hierarchy with one device, for tests. */
export function makeFakeNvidiaPki(options: FakeLeafOptions = {}): FakeNvidiaPki {
  const { root, identity, ica } = generateNvidiaHierarchy();
  const device = issueNvidiaDevice({ root: root.certificate, identity: identity.certificate, ica }, options);
  return { ...device, root, anchors: nvidiaAnchors(root.certificate.toString()) };
}
