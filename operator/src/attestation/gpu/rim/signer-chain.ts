/**
 * Certificate chain of a RIM signer (KeyInfo: signer → L3 → GH100/LS10 CA → CoRIM root) to a pinned NVIDIA CoRIM
 * signing root. Paths are built from the supplied certificates; a root that arrives with the RIM is never trusted.
 * Validity is checked separately (`checkValidity`) so that a cached path still expires.
 */
import { X509Certificate } from "node:crypto";
import { EvidenceError } from "../../types.ts";
import { candidateIssuers, commonName, issuedBy, pathToPinnedRoot } from "../cert-path.ts";

export { commonName };
import {
  allowsKeyUsage,
  basicConstraints,
  KEY_USAGE_BIT,
  parseCertificate,
  unknownCriticalExtensions,
} from "../certificate-profile.ts";
import { evidenceCertificate } from "../../x509-certificate.ts";

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

/** Builds and checks signer → … → pinned root; returns the path, signer first, root last. */
export function buildSignerPath(
  ders: readonly Uint8Array[],
  roots: readonly X509Certificate[],
): X509Certificate[] {
  const [signerDer, ...rest] = ders;
  if (signerDer === undefined)
    throw new EvidenceError("EvidenceMalformed", "RIM KeyInfo holds no certificate");
  const signer = evidenceCertificate(signerDer, "RIM signer certificate");
  const path = pathToPinnedRoot(signer, candidateIssuers(rest), roots, {
    maxDepth: MAX_DEPTH,
    prefix: "RIM signer chain: ",
    where: "KeyInfo or pinned RIM root",
  });
  checkProfile(path);
  return path;
}

function checkProfile(path: readonly X509Certificate[]): void {
  const signerKey = path[0]?.publicKey.asymmetricKeyDetails;
  if (path[0]?.publicKey.asymmetricKeyType !== "ec" || signerKey?.namedCurve !== "secp384r1")
    throw chainInvalid("the signer key is not an ECDSA P-384 key");
  path.forEach((cert, i) => {
    const parsed = parseCertificate(cert.raw, "RIM chain certificate");
    const name = commonName(cert.subject);
    const unknown = unknownCriticalExtensions(parsed, []);
    if (unknown.length > 0)
      throw chainInvalid(`${name} has unknown critical extensions ${unknown.join(", ")}`);
    if (i === 0) {
      if (!allowsKeyUsage(parsed, KEY_USAGE_BIT.digitalSignature)) throw chainInvalid(`${name} may not sign`);
      if (basicConstraints(parsed).ca) throw chainInvalid(`the signer ${name} is a CA`);
      return;
    }
    const { ca, pathLength } = basicConstraints(parsed);
    if (!ca || !allowsKeyUsage(parsed, KEY_USAGE_BIT.keyCertSign))
      throw chainInvalid(`${name} is not a CA but issued ${commonName(path[i - 1]?.subject ?? "")}`);
    if (pathLength !== undefined && i - 1 > pathLength)
      throw chainInvalid(`${name} allows ${pathLength} intermediate CAs below it, the chain has ${i - 1}`);
  });
}
