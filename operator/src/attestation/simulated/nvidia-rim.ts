/**
 * Simulated NVIDIA RIMs: SWID tags in NVIDIA's layout and XML-DSig profile, signed by a simulated CoRIM hierarchy
 * ("NVIDIA CoRIM signing Root CA" → "NVIDIA Reference Value GH100 CA" → "HCC RIM L4 Signer"). Only a verifier given
 * the simulated root explicitly (tests, `--test-trust-roots`) trusts them; the pinned root never does.
 */
import { createHash, X509Certificate } from "node:crypto";
import { signEnveloped } from "../gpu/rim/xml-dsig.ts";
import { issueCertificate, type FakeCertificate, type Validity } from "./nvidia-pki.ts";

export interface RimCa {
  root: X509Certificate;
  ca: X509Certificate;
  signer: FakeCertificate;
  /** Delegated OCSP responders of the root and the CA (simulated-ocsp.ts). */
  ocspResponders?: FakeCertificate[];
}

export function generateRimCa(
  options: { signerValidity?: Validity; ocspResponders?: (ca: FakeCertificate) => FakeCertificate } = {},
): RimCa {
  const root = issueCertificate("NVIDIA CoRIM signing Root CA", undefined, { ca: true });
  const ca = issueCertificate("NVIDIA Reference Value GH100 CA", root, { ca: true });
  const signer = issueCertificate("HCC RIM L4 Signer", ca, {
    ca: false,
    ...(options.signerValidity === undefined ? {} : { validity: options.signerValidity }),
  });
  const responders = options.ocspResponders;
  return {
    root: root.certificate,
    ca: ca.certificate,
    signer,
    ...(responders === undefined ? {} : { ocspResponders: [root, ca].map(responders) }),
  };
}

export interface RimSpec {
  /** colloquialVersion: the driver or VBIOS version. */
  version: string;
  edition?: "GPU" | "SWITCH";
  product?: string;
  /** RIM index → allowed SHA-384 values; indexes not listed are inactive. */
  active: ReadonlyMap<number, readonly Uint8Array[]>;
  /** Highest index listed (inactive ones are zero hashes), default 63. */
  lastIndex?: number;
}

const SWID = "http://standards.iso.org/iso/19770/-2/2015/schema.xsd";
const HASH_NS = "http://www.w3.org/2001/04/xmlenc#sha384";
const ZERO = "00".repeat(48);

/** The unsigned SWID tag (NVIDIA's namespaces and attribute names). */
export function swidTag(spec: RimSpec): string {
  const product = spec.product ?? "GH100";
  const resources = Array.from({ length: (spec.lastIndex ?? 63) + 1 }, (_, index) => {
    const hashes = spec.active.get(index);
    const values = hashes === undefined ? [ZERO] : hashes.map((h) => Buffer.from(h).toString("hex"));
    const attrs = values.map((v, k) => ` ns2:Hash${k}="${v}"`).join("");
    return `    <ns0:Resource type="Measurement" index="${index}" active="${hashes === undefined ? "False" : "True"}" alternatives="${values.length}"${attrs} name="Measurement_${index}" size="48"/>`;
  });
  const tagId = createHash("sha384").update(`${product} ${spec.version}`).digest("hex");
  return [
    `<SoftwareIdentity xmlns="${SWID}" xmlns:ns0="${SWID}" xmlns:ns2="${HASH_NS}" corpus="false" name="${product}" patch="false" supplemental="false" tagId="${tagId}" version="1.0" tagVersion="0">`,
    `    <ns0:Entity name="NVIDIA Corporation" role="softwareCreator tagCreator"/>`,
    `    <ns0:Meta colloquialVersion="${spec.version}" edition="${spec.edition ?? "GPU"}" product="${product}" revision="r1" PayloadType="direct"/>`,
    `    <ns0:Payload>`,
    ...resources,
    `    </ns0:Payload>`,
    `</SoftwareIdentity>`,
  ].join("\n");
}

/** A signed RIM whose KeyInfo carries signer → CA → root, like NVIDIA's. */
export function signedRim(spec: RimSpec, ca: RimCa): string {
  return signEnveloped(swidTag(spec), ca.signer.keys.privateKey, [
    Buffer.from(ca.signer.certificate.raw),
    Buffer.from(ca.ca.raw),
    Buffer.from(ca.root.raw),
  ]);
}
