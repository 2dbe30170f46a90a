/**
 * Certificate chain of a RIM signer (KeyInfo: signer → L3 → GH100/LS10 CA → CoRIM root) to a pinned NVIDIA CoRIM
 * signing root. Paths are built from the supplied certificates; a root that arrives with the RIM is never trusted.
 * Validity is checked separately (`checkValidity`) so that a cached path still expires. The driver and VBIOS RIMs
 * of a GPU share their CA certificates: a `SignerChainMemo` keeps verified links and parsed profiles by the
 * certificates' SHA-256 fingerprints, so a shared CA is parsed and its signature verified once per verifier.
 */
import { X509Certificate } from "node:crypto";
import { EvidenceError } from "../../types.ts";
import { candidateIssuers, commonName, issuedBy, pathToPinnedRoot, VerifiedLinks } from "../cert-path.ts";

export { commonName };
import {
  allowsKeyUsage,
  basicConstraints,
  KEY_USAGE_BIT,
  parseCertificate,
  unknownCriticalExtensions,
} from "../certificate-profile.ts";
import { evidenceCertificate } from "../../x509-certificate.ts";
import { BoundedMap } from "../../bounded-map.ts";

const MAX_DEPTH = 6;

function chainInvalid(message: string): EvidenceError {
  return new EvidenceError("ChainInvalid", `RIM signer chain: ${message}`);
}

export function pinnedRoots(pems: readonly string[]): X509Certificate[] {
  return pems.map((pem) => {
    const root = new X509Certificate(pem);
    if (!root.ca || !issuedBy(root, root))
      throw new Error(`Pinned RIM root ${root.subject} is not a self-signed CA`);
    return root;
  });
}

interface CertificateFacts {
  unknownCritical: string[];
  mayDigitallySign: boolean;
  maySignCertificates: boolean;
  constraints: { ca: boolean; pathLength?: number };
}

function certificateFacts(cert: X509Certificate): CertificateFacts {
  const parsed = parseCertificate(cert.raw, "RIM chain certificate");
  return {
    unknownCritical: unknownCriticalExtensions(parsed, []),
    mayDigitallySign: allowsKeyUsage(parsed, KEY_USAGE_BIT.digitalSignature),
    maySignCertificates: allowsKeyUsage(parsed, KEY_USAGE_BIT.keyCertSign),
    constraints: basicConstraints(parsed),
  };
}

/** What the checks learnt about certificates, keyed by SHA-256 fingerprints (the DER itself, not names). */
export class SignerChainMemo {
  readonly #links: VerifiedLinks;
  readonly #facts: BoundedMap<string, CertificateFacts>;

  constructor(maxEntries = 256) {
    this.#links = new VerifiedLinks(maxEntries);
    this.#facts = new BoundedMap(maxEntries);
  }

  get issued(): VerifiedLinks["issued"] {
    return this.#links.issued;
  }

  facts(cert: X509Certificate): CertificateFacts {
    const key = cert.fingerprint256;
    let facts = this.#facts.get(key);
    if (facts === undefined) {
      facts = certificateFacts(cert);
      this.#facts.set(key, facts);
    }
    return facts;
  }
}

/** Builds and checks signer → … → pinned root; returns the path, signer first, root last. */
export function buildSignerPath(
  ders: readonly Uint8Array[],
  roots: readonly X509Certificate[],
  memo: SignerChainMemo = new SignerChainMemo(0),
): X509Certificate[] {
  const [signerDer, ...rest] = ders;
  if (signerDer === undefined)
    throw new EvidenceError("EvidenceMalformed", "RIM KeyInfo holds no certificate");
  const signer = evidenceCertificate(signerDer, "RIM signer certificate");
  const path = pathToPinnedRoot(signer, candidateIssuers(rest), roots, {
    maxDepth: MAX_DEPTH,
    prefix: "RIM signer chain: ",
    where: "KeyInfo or pinned RIM root",
    issued: memo.issued,
  });
  checkProfile(path, memo);
  return path;
}

function checkProfile(path: readonly X509Certificate[], memo: SignerChainMemo): void {
  const signerKey = path[0]?.publicKey.asymmetricKeyDetails;
  if (path[0]?.publicKey.asymmetricKeyType !== "ec" || signerKey?.namedCurve !== "secp384r1")
    throw chainInvalid("the signer key is not an ECDSA P-384 key");
  path.forEach((cert, i) => {
    const facts = memo.facts(cert);
    const name = commonName(cert.subject);
    if (facts.unknownCritical.length > 0)
      throw chainInvalid(`${name} has unknown critical extensions ${facts.unknownCritical.join(", ")}`);
    if (i === 0) {
      if (!facts.mayDigitallySign) throw chainInvalid(`${name} may not sign`);
      if (facts.constraints.ca) throw chainInvalid(`the signer ${name} is a CA`);
      return;
    }
    const { ca, pathLength } = facts.constraints;
    if (!ca || !facts.maySignCertificates)
      throw chainInvalid(`${name} is not a CA but issued ${commonName(path[i - 1]?.subject ?? "")}`);
    if (pathLength !== undefined && i - 1 > pathLength)
      throw chainInvalid(`${name} allows ${pathLength} intermediate CAs below it, the chain has ${i - 1}`);
  });
}
