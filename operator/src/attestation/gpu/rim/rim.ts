/**
 * NVIDIA RIMs: ISO/IEC 19770-2 SWID tags whose Payload lists one Resource per SPDM measurement index with its
 * allowed SHA-384 values (Hash0..Hash{alternatives-1}), signed with an enveloped XML-DSig. `RimVerifier` checks the
 * signature and the signer chain to a pinned CoRIM root and reads the reference values from the signed XML only.
 * Each RIM is verified once per content digest (SHA-256 of its text): the verified result (signer chain, reference
 * values) is cached by digest, and certificate validity is re-checked against `now` on every use.
 */
import { createHash, type X509Certificate } from "node:crypto";
import { EvidenceError } from "../../types.ts";
import { BoundedMap } from "../../bounded-map.ts";
import { checkValidity } from "../device-chain.ts";
import { NVIDIA_RIM_ROOT_CA } from "../nvidia-roots.ts";
import { buildSignerPath, pinnedRoots, SignerChainMemo } from "./signer-chain.ts";
import type { XmlElement } from "./xml-types.ts";
import { envelopedSignature, keyInfoCertificates, parseXml, verifyEnvelopedSignature } from "./xml-dsig.ts";

const SWID_NS = "http://standards.iso.org/iso/19770/-2/2015/schema.xsd";
const SHA384_HASH_NS = "http://www.w3.org/2001/04/xmlenc#sha384";
const MAX_ALTERNATIVES = 32;
const MAX_RESOURCES = 255;
/** RIM text larger than the bundle schema allows is refused before parsing. */
export const MAX_RIM_LENGTH = 524_288;

export interface RimMeasurement {
  /** RIM index i describes SPDM measurement block i + 1. */
  index: number;
  active: boolean;
  /** Allowed values, lowercase hex SHA-384. */
  hashes: string[];
}

export interface VerifiedRim {
  tagId: string;
  /** `Meta colloquialVersion`: the driver or VBIOS version the RIM describes. */
  version: string;
  /** `Meta edition` (GPU, SWITCH) and `product` (GH100, LS10). */
  edition: string;
  product: string;
  measurements: RimMeasurement[];
  /** Signer first, the pinned root last. */
  signerChain: readonly X509Certificate[];
  sha256: string;
}

export interface RimTrustAnchors {
  /** PEM roots a RIM signer chain may end in. */
  roots: readonly string[];
}

export const PINNED_RIM_ANCHORS: RimTrustAnchors = { roots: [NVIDIA_RIM_ROOT_CA] };

function malformed(message: string): EvidenceError {
  return new EvidenceError("EvidenceMalformed", `RIM: ${message}`);
}

function swidChildren(parent: XmlElement, localName: string): XmlElement[] {
  return Array.from(parent.childNodes).filter(
    (n): n is XmlElement => n.nodeType === 1 && n.namespaceURI === SWID_NS && n.localName === localName,
  );
}

function onlyChild(parent: XmlElement, localName: string): XmlElement {
  const found = swidChildren(parent, localName);
  if (found.length !== 1)
    throw malformed(`expected one ${localName} in ${parent.localName}, found ${found.length}`);
  return found[0] as XmlElement;
}

function attribute(element: XmlElement, name: string): string {
  const value = element.getAttribute(name);
  if (value === null || value === "") throw malformed(`${element.localName} has no ${name}`);
  return value;
}

function integer(element: XmlElement, name: string, max: number): number {
  const text = attribute(element, name);
  if (!/^\d{1,3}$/.test(text) || Number(text) > max)
    throw malformed(`${element.localName} ${name}="${text}" is out of range`);
  return Number(text);
}

function measurement(resource: XmlElement): RimMeasurement {
  const index = integer(resource, "index", 254);
  const activeText = attribute(resource, "active");
  if (activeText !== "True" && activeText !== "False")
    throw malformed(`Resource ${index} active="${activeText}"`);
  const alternatives = integer(resource, "alternatives", MAX_ALTERNATIVES);
  if (alternatives < 1) throw malformed(`Resource ${index} has no alternatives`);
  const hashes = Array.from({ length: alternatives }, (_, k) => {
    const value = resource.getAttributeNS(SHA384_HASH_NS, `Hash${k}`) ?? "";
    if (!/^[0-9a-fA-F]{96}$/.test(value))
      throw malformed(`Resource ${index} Hash${k} is not a SHA-384 hex digest`);
    return value.toLowerCase();
  });
  return { index, active: activeText === "True", hashes };
}

/** Reads a (signed, canonical) SWID tag; throws EvidenceMalformed on anything unexpected. */
export function readSwidTag(xml: string): Omit<VerifiedRim, "signerChain" | "sha256"> {
  const root = parseXml(xml).documentElement;
  if (root?.namespaceURI !== SWID_NS || root.localName !== "SoftwareIdentity")
    throw malformed("the root is not a SWID SoftwareIdentity");
  const meta = onlyChild(root, "Meta");
  const resources = swidChildren(onlyChild(root, "Payload"), "Resource").filter(
    (r) => r.getAttribute("type") === "Measurement",
  );
  if (resources.length === 0 || resources.length > MAX_RESOURCES)
    throw malformed(`Payload holds ${resources.length} measurement resources`);
  const measurements = resources.map(measurement);
  const seen = new Set<number>();
  for (const m of measurements) {
    if (seen.has(m.index)) throw malformed(`measurement index ${m.index} appears twice`);
    seen.add(m.index);
  }
  return {
    tagId: attribute(root, "tagId"),
    version: attribute(meta, "colloquialVersion"),
    edition: attribute(meta, "edition"),
    product: attribute(meta, "product"),
    measurements,
  };
}

export class RimVerifier {
  readonly #roots: X509Certificate[];
  readonly #byDigest: BoundedMap<string, VerifiedRim>;
  /** Texts seen before → their digest: V8 keeps a string's hash, so a RIM seen again is not re-hashed (~40 µs). */
  readonly #digestOfText: BoundedMap<string, string>;
  readonly #chains: SignerChainMemo;
  readonly stats = { hits: 0, misses: 0 };

  constructor(anchors: RimTrustAnchors = PINNED_RIM_ANCHORS, maxEntries = 256) {
    this.#roots = pinnedRoots(anchors.roots);
    this.#chains = new SignerChainMemo(maxEntries);
    this.#byDigest = new BoundedMap(maxEntries);
    this.#digestOfText = new BoundedMap(maxEntries);
  }

  /** Verifies signature, signer chain and (as of `now`) validity. Throws EvidenceError with the failing code. */
  verify(text: string, now: Date): VerifiedRim {
    const rim = this.verifySignature(text);
    try {
      checkValidity(rim.signerChain, now);
    } catch (error) {
      if (error instanceof EvidenceError)
        throw new EvidenceError(error.code, `RIM signer chain: ${error.message}`);
      throw error;
    }
    return rim;
  }

  /**
   * Signature and signer chain to a pinned root, without the validity period: what a RIM read back from a cache
   * must pass before it is used (`verify` adds the validity check against the appraisal's `now`).
   */
  verifySignature(text: string): VerifiedRim {
    if (text.length > MAX_RIM_LENGTH) throw malformed(`longer than ${MAX_RIM_LENGTH} characters`);
    const known = this.#digestOfText.get(text);
    const sha256 = known ?? createHash("sha256").update(text).digest("hex");
    let rim = this.#byDigest.get(sha256);
    if (rim === undefined) {
      this.stats.misses++;
      rim = this.#verifyUncached(text, sha256);
      this.#byDigest.set(sha256, rim);
    } else {
      this.stats.hits++;
    }
    // Only verified texts are remembered: a flood of tampered RIMs must not fill memory.
    if (known === undefined) this.#digestOfText.set(text, sha256);
    return rim;
  }

  #verifyUncached(text: string, sha256: string): VerifiedRim {
    const signature = envelopedSignature(parseXml(text));
    const signerChain = buildSignerPath(keyInfoCertificates(signature), this.#roots, this.#chains);
    const signerKey = signerChain[0]?.publicKey;
    if (signerKey === undefined) throw malformed("no signer certificate");
    const signedXml = verifyEnvelopedSignature(signature, signerKey);
    return { ...readSwidTag(signedXml), signerChain, sha256 };
  }
}
