/**
 * Verifies a VCEK (VCEK <- ASK <- ARK) or VLEK (VLEK <- ASVK <- ARK) endorsement chain to a pinned ARK.
 * Successful chain verifications are cached by the leaf's SHA-256; certificate validity is re-checked on
 * every use, so a cached chain still expires. Report signatures are never cached (the caller checks them).
 */
import { createHash, X509Certificate, type KeyObject } from "node:crypto";
import type { CertificateDer } from "../../crypto/x509-der.ts";
import { EvidenceError } from "../types.ts";
import { BoundedMap } from "../bounded-map.ts";
import {
  decodeAmdExtensions,
  isAmdPssSignature,
  parseCertificate,
  type AmdCertExtensions,
} from "./cert-extensions.ts";
import { parsePemCertificates } from "../../crypto/pem.ts";
import { productFromName, SNP_PRODUCTS, type SnpProduct } from "./tcb.ts";
import { evidenceCertificate } from "../x509-certificate.ts";

export type EndorsementKeyKind = "vcek" | "vlek";

export interface CertificateValidity {
  name: string;
  notBefore: Date;
  notAfter: Date;
}

export interface Endorsement {
  keyKind: EndorsementKeyKind;
  product: SnpProduct;
  publicKey: KeyObject;
  extensions: AmdCertExtensions;
  /** Leaf, intermediate and ARK, each checked against `now` on every use. */
  validity: CertificateValidity[];
  /** The ASK/ASVK that signed the leaf and the ARK that signed it: what AMD's CRL speaks about and is signed by. */
  issuers: { intermediate: X509Certificate; ark: X509Certificate };
}

export interface TrustAnchors {
  /** ARK certificates (PEM), the only roots. Their CN names the product: ARK-Milan, ARK-Genoa, ARK-Turin. */
  arks: readonly string[];
  /** ASK/ASVK certificates (PEM) tried when the evidence brings no chain; verified like any other. */
  intermediates: readonly string[];
}

interface Ark {
  product: SnpProduct;
  cert: X509Certificate;
}

interface Intermediate {
  cert: X509Certificate;
  parsed: CertificateDer;
}

const LEAF_KINDS: Readonly<Record<string, EndorsementKeyKind>> = { "SEV-VCEK": "vcek", "SEV-VLEK": "vlek" };

function commonName(distinguishedName: string): string | undefined {
  return /(?:^|\n)CN=([^\n]*)/.exec(distinguishedName)?.[1];
}

function chainInvalid(message: string): EvidenceError {
  return new EvidenceError("ChainInvalid", message);
}

function validityOf(name: string, cert: X509Certificate): CertificateValidity {
  return { name, notBefore: cert.validFromDate, notAfter: cert.validToDate };
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

export function checkValidity(validity: readonly CertificateValidity[], now: Date): void {
  for (const { name, notBefore, notAfter } of validity) {
    if (now < notBefore) {
      throw new EvidenceError("CertificateExpired", `${name} is not valid before ${notBefore.toISOString()}`);
    }
    if (now > notAfter) {
      throw new EvidenceError("CertificateExpired", `${name} expired at ${notAfter.toISOString()}`);
    }
  }
}

export class EndorsementVerifier {
  readonly #arks: Ark[];
  readonly #builtinIntermediates: readonly string[];
  #parsedBuiltins: Intermediate[] | undefined;
  readonly #cache: BoundedMap<string, Endorsement>;
  readonly stats = { hits: 0, misses: 0 };

  constructor(anchors: TrustAnchors, maxEntries = 1024) {
    this.#arks = anchors.arks.map((pem) => {
      const cert = new X509Certificate(pem);
      const product = SNP_PRODUCTS.find((p) => commonName(cert.subject) === `ARK-${p}`);
      if (product === undefined || !cert.verify(cert.publicKey)) {
        throw new Error(`Pinned ARK ${cert.subject} is not a self-signed ARK-<product> certificate`);
      }
      return { product, cert };
    });
    this.#builtinIntermediates = anchors.intermediates;
    this.#cache = new BoundedMap(maxEntries);
  }

  /** Verifies `leafDer` up to a pinned ARK as of `now`; `suppliedChain` may hold ASK/ASVK and ARK (ignored). */
  verify(leafDer: Uint8Array, suppliedChain: readonly Uint8Array[], now: Date): Endorsement {
    const key = sha256Hex(leafDer);
    let endorsement = this.#cache.get(key);
    if (endorsement === undefined) {
      this.stats.misses++;
      endorsement = this.#verifyUncached(leafDer, suppliedChain);
      this.#cache.set(key, endorsement);
    } else {
      this.stats.hits++;
    }
    checkValidity(endorsement.validity, now);
    return endorsement;
  }

  #verifyUncached(leafDer: Uint8Array, suppliedChain: readonly Uint8Array[]): Endorsement {
    const leaf = evidenceCertificate(leafDer, "VCEK/VLEK");
    const leafParsed = parseCertificate(leafDer);
    const leafName = commonName(leaf.subject) ?? "";
    const keyKind = LEAF_KINDS[leafName];
    if (keyKind === undefined) {
      throw chainInvalid(`leaf certificate CN "${leafName}" is neither SEV-VCEK nor SEV-VLEK`);
    }
    const keyDetails = leaf.publicKey.asymmetricKeyDetails;
    if (leaf.publicKey.asymmetricKeyType !== "ec" || keyDetails?.namedCurve !== "secp384r1") {
      throw chainInvalid(`${leafName} key is not an ECDSA P-384 key`);
    }
    if (!isAmdPssSignature(leafParsed)) {
      throw chainInvalid(`${leafName} is not signed with RSASSA-PSS SHA-384`);
    }

    // Unparseable chain entries are skipped rather than fatal, so the outcome does not depend on the cache.
    const supplied = suppliedChain.flatMap((der) => {
      try {
        return [this.#intermediate(der)];
      } catch {
        return [];
      }
    });
    const candidates = [...supplied, ...this.#builtins()];
    for (const intermediate of candidates) {
      if (!leaf.checkIssued(intermediate.cert) || !leaf.verify(intermediate.cert.publicKey)) continue;
      const ark = this.#arks.find(
        (a) => intermediate.cert.checkIssued(a.cert) && intermediate.cert.verify(a.cert.publicKey),
      );
      if (ark === undefined || !isAmdPssSignature(intermediate.parsed)) continue;
      return this.#endorsement(keyKind, leaf, leafParsed, intermediate.cert, ark);
    }
    throw chainInvalid(
      `no ASK/ASVK issued by a pinned AMD ARK signs the ${leafName} (issuer ${commonName(leaf.issuer) ?? "?"})`,
    );
  }

  #endorsement(
    keyKind: EndorsementKeyKind,
    leaf: X509Certificate,
    leafParsed: CertificateDer,
    intermediate: X509Certificate,
    ark: Ark,
  ): Endorsement {
    const expectedIssuer = keyKind === "vcek" ? `SEV-${ark.product}` : `SEV-VLEK-${ark.product}`;
    const issuerName = commonName(intermediate.subject);
    if (issuerName !== expectedIssuer) {
      throw chainInvalid(
        `${keyKind.toUpperCase()} must be issued by ${expectedIssuer}, not ${issuerName ?? "?"}`,
      );
    }
    const extensions = decodeAmdExtensions(leafParsed);
    const namedProduct = productFromName(extensions.productName ?? "");
    if (namedProduct !== ark.product) {
      throw chainInvalid(
        `certificate productName "${extensions.productName ?? ""}" does not match ARK-${ark.product}`,
      );
    }
    return {
      keyKind,
      product: ark.product,
      publicKey: leaf.publicKey,
      extensions,
      validity: [
        validityOf(keyKind.toUpperCase(), leaf),
        validityOf(expectedIssuer, intermediate),
        validityOf(`ARK-${ark.product}`, ark.cert),
      ],
      issuers: { intermediate, ark: ark.cert },
    };
  }

  #intermediate(der: Uint8Array): Intermediate {
    return { cert: evidenceCertificate(der, "certificate chain entry"), parsed: parseCertificate(der) };
  }

  #builtins(): Intermediate[] {
    this.#parsedBuiltins ??= this.#builtinIntermediates.flatMap((pem) =>
      parsePemCertificates(pem, "built-in intermediate").map((der) => this.#intermediate(der)),
    );
    return this.#parsedBuiltins;
  }
}
