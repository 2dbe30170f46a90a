/**
 * Certification paths to a pinned root, shared by the GPU device chain and the RIM signer chain: built from
 * the supplied certificates only (a root that arrives with the evidence is never trusted), each link checked
 * by name and signature.
 */
import { X509Certificate } from "node:crypto";
import { BoundedMap } from "../bounded-map.ts";
import { EvidenceError } from "../types.ts";

export function commonName(distinguishedName: string): string {
  return /(?:^|\n)CN=([^\n]*)/.exec(distinguishedName)?.[1] ?? "?";
}

/** Whether `parent` signed `child` (names and signature); VerifiedLinks remembers the links that verified. */
export function issuedBy(child: X509Certificate, parent: X509Certificate): boolean {
  return child.checkIssued(parent) && child.verify(parent.publicKey);
}

/**
 * `issuedBy` remembering the links that verified, by the SHA-256 fingerprints of both certificates (the DER, not
 * names): the CAs many chains share (every H100's device chain, a GPU's driver and VBIOS RIM chains) are verified
 * once per verifier (the controller keeps one for its lifetime; every GPU's device chain shares its upper links).
 * A failing pair is not remembered and costs its check again.
 */
export class VerifiedLinks {
  readonly #links: BoundedMap<string, true>;

  constructor(maxEntries = 256) {
    this.#links = new BoundedMap(maxEntries);
  }

  issued = (child: X509Certificate, parent: X509Certificate): boolean => {
    const key = `${child.fingerprint256}>${parent.fingerprint256}`;
    if (this.#links.has(key)) return true;
    if (!issuedBy(child, parent)) return false;
    this.#links.set(key, true);
    return true;
  };
}

/**
 * Supplied CA certificates by their DER (base64): every GPU of a board sends the same provisioner CA and root, and
 * each X509Certificate holds OpenSSL memory the JavaScript heap does not see until its wrapper is collected.
 */
const suppliedCertificates = new BoundedMap<string, X509Certificate | null>(64);

/** The supplied intermediates worth trying: unparseable and self-signed entries never help to build a path. */
export function candidateIssuers(ders: readonly Uint8Array[]): X509Certificate[] {
  return ders.flatMap((der) => {
    const key = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString("base64");
    let cert = suppliedCertificates.get(key);
    if (cert === undefined) {
      try {
        const parsed = new X509Certificate(der);
        cert = parsed.checkIssued(parsed) ? null : parsed;
      } catch {
        cert = null;
      }
      suppliedCertificates.set(key, cert);
    }
    return cert === null ? [] : [cert];
  });
}

/**
 * start → … → a pinned root (start first, root last), or ChainInvalid naming the certificate nobody signs.
 * `prefix` starts every message ("RIM signer chain: "), `where` names where issuers were looked for.
 */
export function pathToPinnedRoot(
  start: X509Certificate,
  supplied: readonly X509Certificate[],
  roots: readonly X509Certificate[],
  options: {
    maxDepth: number;
    prefix: string;
    where: string;
    /** Default `issuedBy`; a memo of it keeps links several chains share from being verified again. */
    issued?: (child: X509Certificate, parent: X509Certificate) => boolean;
  },
): X509Certificate[] {
  const issued = options.issued ?? issuedBy;
  const invalid = (message: string) => new EvidenceError("ChainInvalid", `${options.prefix}${message}`);
  const path = [start];
  let current = start;
  while (path.length <= options.maxDepth) {
    const root = roots.find((r) => issued(current, r));
    if (root !== undefined) return [...path, root];
    const next = supplied.find((c) => !path.includes(c) && issued(current, c));
    if (next === undefined) {
      throw invalid(
        `no certificate in ${options.where} signs ${commonName(current.subject)} (issuer ${commonName(current.issuer)})`,
      );
    }
    path.push(next);
    current = next;
  }
  throw invalid(`the chain is longer than ${String(options.maxDepth)}`);
}
