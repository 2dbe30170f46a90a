/**
 * Enveloped XML-DSig as NVIDIA signs its SWID-tag RIMs: one Signature, child of the root, one Reference URI="" with
 * the enveloped-signature and c14n 1.1 transforms, SHA-384 digest, ECDSA P-384/SHA-384 (SignatureValue = raw r‖s).
 * Canonicalisation is xml-crypto's and signing goes through its SignedXml. Verification pins the profile first
 * (`envelopedSignature`), so that nothing else (HMAC, RSA, other references) is accepted, and then processes the one
 * reference itself on the document already parsed: xml-crypto's checkSignature would parse the text again, select
 * the reference by XPath and deep-clone the document, which was a third of a cold RIM verification.
 */
import { createHash, sign as signData, verify as verifyData, type KeyObject } from "node:crypto";
import { createRequire } from "node:module";
import { EvidenceError } from "../../types.ts";
import type { XmlDocument, XmlElement, XmlNode } from "./xml-types.ts";

/**
 * xml-crypto and @xmldom/xmldom are loaded without their type declarations: those pull the DOM lib into the whole
 * program (`/// <reference lib="dom" />`), which breaks Node's crypto types elsewhere. xml-types.ts declares the
 * small part used here.
 */
const load = createRequire(import.meta.url);

interface Algorithm {
  getAlgorithmName(): string;
}
type AlgorithmClass = new () => Algorithm;

export interface SignedXmlInstance {
  CanonicalizationAlgorithms: Record<string, AlgorithmClass>;
  HashAlgorithms: Record<string, AlgorithmClass>;
  SignatureAlgorithms: Record<string, AlgorithmClass>;
  loadSignature(signature: XmlNode): void;
  checkSignature(xml: string): boolean;
  getSignedReferences(): string[];
  addReference(reference: {
    xpath: string;
    transforms: string[];
    digestAlgorithm: string;
    isEmptyUri: boolean;
  }): void;
  computeSignature(xml: string, options: { prefix: string }): void;
  getSignedXml(): string;
}

interface SignedXmlOptions {
  publicCert?: KeyObject;
  privateKey?: KeyObject;
  canonicalizationAlgorithm?: string;
  signatureAlgorithm?: string;
  getCertFromKeyInfo?: () => null;
  getKeyInfoContent?: (args?: { prefix?: string | null }) => string;
}

interface NamespaceBinding {
  prefix: string;
  namespaceURI: string;
}

interface Canonicalizer extends Algorithm {
  process(
    node: XmlNode,
    options: { ancestorNamespaces: NamespaceBinding[]; defaultNsForPrefix: Record<string, string> },
  ): string;
}

const xmlCrypto = load("xml-crypto") as {
  SignedXml: (new (options?: SignedXmlOptions) => SignedXmlInstance) & {
    defaultNsForPrefix: Record<string, string>;
  };
  C14nCanonicalization: new () => Canonicalizer;
};
const xmlCryptoUtils = load("xml-crypto/lib/utils") as {
  findAncestorNsForElement(element: XmlElement): NamespaceBinding[];
};
const xmldom = load("@xmldom/xmldom") as {
  DOMParser: new (options: {
    locator: object;
    errorHandler: Record<"warning" | "error" | "fatalError", (message: string) => void>;
  }) => { parseFromString(text: string, mimeType: string): XmlDocument };
};
const { SignedXml } = xmlCrypto;

export const DSIG_NS = "http://www.w3.org/2000/09/xmldsig#";
export const C14N_11 = "http://www.w3.org/2006/12/xml-c14n11";
export const ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
export const SHA384_DIGEST = "http://www.w3.org/2001/04/xmldsig-more#sha384";
export const ECDSA_SHA384 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384";
const P384_SIGNATURE_LENGTH = 96;

/**
 * c14n 1.1 differs from c14n 1.0 only in how xml:id and xml:base are inherited into document subsets; documents that
 * use neither (checked by `assertC14n11SafeAsC14n10`) canonicalise identically, so xml-crypto's c14n 1.0 serves.
 */
class C14n11 extends xmlCrypto.C14nCanonicalization {
  override getAlgorithmName(): string {
    return C14N_11;
  }
}

class Sha384 implements Algorithm {
  getHash = (xml: string): string => createHash("sha384").update(xml, "utf8").digest("base64");
  getAlgorithmName = (): string => SHA384_DIGEST;
}

class EcdsaSha384 implements Algorithm {
  getSignature = (signedInfo: string, privateKey: KeyObject): string =>
    signData("sha384", Buffer.from(signedInfo, "utf8"), {
      key: privateKey,
      dsaEncoding: "ieee-p1363",
    }).toString("base64");

  verifySignature = (material: string, key: KeyObject, signatureValue: string): boolean => {
    const signature = Buffer.from(signatureValue.replace(/\s+/g, ""), "base64");
    if (signature.length !== P384_SIGNATURE_LENGTH) return false;
    return verifyData("sha384", Buffer.from(material, "utf8"), { key, dsaEncoding: "ieee-p1363" }, signature);
  };

  getAlgorithmName = (): string => ECDSA_SHA384;
}

const ENVELOPED_TRANSFORM = (() => {
  const transform = new SignedXml().CanonicalizationAlgorithms[ENVELOPED];
  if (transform === undefined) throw new Error("xml-crypto has no enveloped-signature transform");
  return transform;
})();

/** xml-crypto's SignedXml restricted to NVIDIA's profile: signing, and the oracle of the verification tests. */
export function profiledSignedXml(options: SignedXmlOptions): SignedXmlInstance {
  const signed = new SignedXml(options);
  // Only NVIDIA's profile: no HMAC, RSA or SHA-1 alternatives an attacker could switch to.
  signed.CanonicalizationAlgorithms = { [C14N_11]: C14n11, [ENVELOPED]: ENVELOPED_TRANSFORM };
  signed.HashAlgorithms = { [SHA384_DIGEST]: Sha384 };
  signed.SignatureAlgorithms = { [ECDSA_SHA384]: EcdsaSha384 };
  return signed;
}

function malformed(message: string, cause?: unknown): EvidenceError {
  return new EvidenceError("EvidenceMalformed", `RIM: ${message}`, cause === undefined ? {} : { cause });
}

/** Parses XML strictly: any parser error or warning is EvidenceMalformed. */
export function parseXml(text: string): XmlDocument {
  const problems: string[] = [];
  const parser = new xmldom.DOMParser({
    locator: {},
    errorHandler: {
      warning: (m: string) => problems.push(m),
      error: (m: string) => problems.push(m),
      fatalError: (m: string) => problems.push(m),
    },
  });
  let doc: XmlDocument;
  try {
    doc = parser.parseFromString(text, "text/xml");
  } catch (error) {
    throw malformed(`not well-formed XML: ${String(error)}`, error);
  }
  if (problems.length > 0) throw malformed(`not well-formed XML: ${problems[0] ?? ""}`);
  if (doc.getElementsByTagName("*").length === 0) throw malformed("no root element");
  return doc;
}

function dsigChildren(parent: XmlElement, localName: string): XmlElement[] {
  return Array.from(parent.childNodes).filter(
    (n): n is XmlElement => n.nodeType === 1 && n.namespaceURI === DSIG_NS && n.localName === localName,
  );
}

function oneChild(parent: XmlElement, localName: string): XmlElement {
  const found = dsigChildren(parent, localName);
  if (found.length !== 1) throw malformed(`${parent.localName} must hold exactly one ${localName}`);
  return found[0] as XmlElement;
}

function algorithm(element: XmlElement): string {
  return element.getAttribute("Algorithm") ?? "";
}

function assertC14n11SafeAsC14n10(doc: XmlDocument): void {
  for (const element of Array.from(doc.getElementsByTagName("*"))) {
    for (const attr of Array.from(element.attributes)) {
      if (attr.name === "xml:id" || attr.name === "xml:base") {
        throw malformed(`${attr.name} on ${element.localName} is not supported in a signed RIM`);
      }
    }
  }
}

/** The single enveloped Signature element, checked against NVIDIA's profile. */
export function envelopedSignature(doc: XmlDocument): XmlElement {
  const root = doc.documentElement;
  if (root === null) throw malformed("no root element");
  const all = Array.from(doc.getElementsByTagNameNS(DSIG_NS, "Signature"));
  const signature = dsigChildren(root, "Signature")[0];
  if (all.length !== 1 || signature === undefined) {
    throw malformed(`expected one ds:Signature child of the root, found ${all.length} Signature elements`);
  }
  const signedInfo = oneChild(signature, "SignedInfo");
  if (algorithm(oneChild(signedInfo, "CanonicalizationMethod")) !== C14N_11)
    throw malformed("SignedInfo canonicalisation is not c14n 1.1");
  if (algorithm(oneChild(signedInfo, "SignatureMethod")) !== ECDSA_SHA384)
    throw malformed("SignatureMethod is not ecdsa-sha384");
  const reference = oneChild(signedInfo, "Reference");
  if (reference.getAttribute("URI") !== "")
    throw malformed('the signature must reference the whole document (URI="")');
  const transforms = dsigChildren(oneChild(reference, "Transforms"), "Transform").map(algorithm);
  if (transforms.join(" ") !== `${ENVELOPED} ${C14N_11}`)
    throw malformed(`unexpected Reference transforms ${transforms.join(", ")}`);
  if (algorithm(oneChild(reference, "DigestMethod")) !== SHA384_DIGEST)
    throw malformed("DigestMethod is not sha384");
  assertC14n11SafeAsC14n10(doc);
  return signature;
}

/** The X509Certificate values of the Signature's KeyInfo, in document order, as DER. */
export function keyInfoCertificates(signature: XmlElement): Buffer[] {
  const keyInfo = dsigChildren(signature, "KeyInfo")[0];
  if (keyInfo === undefined) throw malformed("the signature has no KeyInfo");
  return dsigChildren(keyInfo, "X509Data").flatMap((data) =>
    dsigChildren(data, "X509Certificate").map((c) => {
      const text = (c.textContent ?? "").replace(/\s+/g, "");
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) throw malformed("an X509Certificate is not base64");
      return Buffer.from(text, "base64");
    }),
  );
}

const canonicalizer = new C14n11();

function signatureInvalid(message: string, cause?: unknown): EvidenceError {
  return new EvidenceError(
    "SignatureInvalid",
    `RIM signature: ${message}`,
    cause === undefined ? {} : { cause },
  );
}

/**
 * Verifies the enveloped signature returned by `envelopedSignature` under `signerKey` and returns the canonical XML
 * that was signed (the document without its Signature): read reference values only from that, never from the raw
 * text. The profile allows exactly one Reference, to the whole document, with the enveloped-signature and c14n 1.1
 * transforms, so the reference is processed here: c14n of SignedInfo (with the namespaces it inherits) is verified
 * under the key, then the Signature is removed from the document (this mutates it) and the canonical document's
 * SHA-384 must equal the signed DigestValue.
 */
export function verifyEnvelopedSignature(signature: XmlElement, signerKey: KeyObject): string {
  const signedInfo = oneChild(signature, "SignedInfo");
  const digestValue = (oneChild(oneChild(signedInfo, "Reference"), "DigestValue").textContent ?? "").replace(
    /\s+/g,
    "",
  );
  const signatureValue = oneChild(signature, "SignatureValue").textContent ?? "";
  const options = { defaultNsForPrefix: xmlCrypto.SignedXml.defaultNsForPrefix };
  let canonicalDocument: string;
  try {
    const canonicalSignedInfo = canonicalizer.process(signedInfo, {
      ...options,
      ancestorNamespaces: xmlCryptoUtils.findAncestorNsForElement(signedInfo),
    });
    if (!new EcdsaSha384().verifySignature(canonicalSignedInfo, signerKey, signatureValue))
      throw signatureInvalid("does not verify under the RIM signer key");
    const root = signature.parentNode;
    if (root === null) throw signatureInvalid("the Signature has no parent");
    root.removeChild(signature);
    canonicalDocument = canonicalizer.process(root, { ...options, ancestorNamespaces: [] });
  } catch (error) {
    if (error instanceof EvidenceError) throw error;
    throw signatureInvalid((error as Error).message, error);
  }
  if (!/^[A-Za-z0-9+/]{64}$/.test(digestValue)) throw signatureInvalid("DigestValue is not a SHA-384 digest");
  const digest = createHash("sha384").update(canonicalDocument, "utf8").digest();
  if (!digest.equals(Buffer.from(digestValue, "base64")))
    throw signatureInvalid("the document's SHA-384 digest does not match the signed DigestValue");
  return canonicalDocument;
}

/** Signs `xml` (a document without a signature) in NVIDIA's profile: simulated RIMs and tests. */
export function signEnveloped(
  xml: string,
  privateKey: KeyObject,
  certificatesDer: readonly Buffer[],
): string {
  const signed = profiledSignedXml({
    privateKey,
    canonicalizationAlgorithm: C14N_11,
    signatureAlgorithm: ECDSA_SHA384,
    getKeyInfoContent: ({ prefix } = {}) => {
      const p = prefix === undefined || prefix === null || prefix === "" ? "" : `${prefix}:`;
      const certs = certificatesDer
        .map((der) => `<${p}X509Certificate>${der.toString("base64")}</${p}X509Certificate>`)
        .join("");
      return `<${p}X509Data>${certs}</${p}X509Data>`;
    },
  });
  signed.addReference({
    xpath: "/*",
    transforms: [ENVELOPED, C14N_11],
    digestAlgorithm: SHA384_DIGEST,
    isEmptyUri: true,
  });
  signed.computeSignature(xml, { prefix: "ds" });
  return signed.getSignedXml();
}
