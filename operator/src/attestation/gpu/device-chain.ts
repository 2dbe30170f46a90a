/**
 * Verifies a GPU/NVSwitch attestation certificate chain (PEM, leaf first) up to a pinned NVIDIA Device Identity CA.
 * Verified chains are cached by the SHA-256 of the PEM text; certificate validity is re-checked on every use, so a
 * cached chain still expires. The SPDM signature is never cached (the caller checks it with `leafKey`).
 */
import { createHash, X509Certificate, type KeyObject } from "node:crypto";
import type { CertificateDer } from "../../crypto/x509-der.ts";
import { parsePemCertificates } from "../../crypto/pem.ts";
import { EvidenceError } from "../types.ts";
import { BoundedMap } from "../bounded-map.ts";
import { candidateIssuers, commonName, issuedBy, pathToPinnedRoot, VerifiedLinks } from "./cert-path.ts";
import {
  allowsKeyUsage,
  basicConstraints,
  KEY_USAGE_BIT,
  parseCertificate,
  unknownCriticalExtensions,
} from "./certificate-profile.ts";
import { certificateFwid, certificateUeid, TCB_INFO_OIDS, UEID_OID } from "./dice-extensions.ts";
import { NVIDIA_DEVICE_IDENTITY_CA } from "./nvidia-roots.ts";
import { evidenceCertificate } from "../x509-certificate.ts";

export interface GpuTrustAnchors {
  /** Root certificates (PEM): the only roots a device chain may end in. */
  roots: readonly string[];
}

export const PINNED_NVIDIA_ANCHORS: GpuTrustAnchors = { roots: [NVIDIA_DEVICE_IDENTITY_CA] };

export type DeviceKind = "gpu" | "switch";
export type DeviceArch = "HOPPER" | "BLACKWELL";

export interface VerifiedDevice {
  kind: DeviceKind;
  /** From the leaf's model (GH100 and LS_10: HOPPER, GB1xx/GB2xx: BLACKWELL); undefined for unknown models. */
  arch?: DeviceArch;
  /** NRAS `hwmodel`: the CN of the device identity (BROM) certificate that issued the leaf. */
  hwmodel: string;
  /** NRAS `ueid`: the leaf's UEID extension in hex when present, else its serial number in decimal. */
  ueid: string;
  /**
   * The device's identity: SHA-256 (hex) of its device identity (BROM/DeviceID) certificate, which is fused per chip,
   * whereas the leaf is derived from the firmware that runs and changes with it.
   */
  deviceIdentity: string;
  leafKey: KeyObject;
  /** The leaf's SHA-384 FWID, when it carries a TCB-info extension. */
  fwid?: Uint8Array;
  /** Leaf first, the pinned root last. */
  chain: readonly X509Certificate[];
}

const MAX_DEPTH = 8;
const DEVICE_EXTENSIONS = [...TCB_INFO_OIDS, UEID_OID];

function chainInvalid(message: string): EvidenceError {
  return new EvidenceError("ChainInvalid", message);
}

function modelOf(leafName: string): { kind: DeviceKind; arch?: DeviceArch } {
  const model = leafName.split(" ")[0] ?? "";
  if (model === "LS_10") return { kind: "switch", arch: "HOPPER" };
  if (model === "GH100") return { kind: "gpu", arch: "HOPPER" };
  if (/^GB[12]\d\d$/.test(model)) return { kind: "gpu", arch: "BLACKWELL" };
  return { kind: "gpu" };
}

interface ValidityWindow {
  name: string;
  from: Date;
  to: Date;
}

// Per certificate object (immutable): its name and dates are read once, not on every GPU verification.
const validityWindows = new WeakMap<X509Certificate, ValidityWindow>();

function validityWindow(cert: X509Certificate): ValidityWindow {
  let window = validityWindows.get(cert);
  if (window === undefined) {
    window = { name: commonName(cert.subject), from: cert.validFromDate, to: cert.validToDate };
    validityWindows.set(cert, window);
  }
  return window;
}

export function checkValidity(chain: readonly X509Certificate[], now: Date): void {
  const at = now.getTime();
  for (const cert of chain) {
    const { name, from, to } = validityWindow(cert);
    if (at < from.getTime()) {
      throw new EvidenceError("CertificateExpired", `${name} is not valid before ${from.toISOString()}`);
    }
    if (at > to.getTime()) {
      throw new EvidenceError("CertificateExpired", `${name} expired at ${to.toISOString()}`);
    }
  }
}

export class DeviceChainVerifier {
  readonly #roots: X509Certificate[];
  readonly #cache: BoundedMap<string, VerifiedDevice>;
  /** Kept even without a chain cache: eight new GPUs share their CA certificates. */
  readonly #links = new VerifiedLinks(64);
  /**
   * Decoded issuers by SHA-256 of their DER (read only): a provisioner CA and identity CA above thousands of
   * devices are decoded once, not once per device. Few: the per-device certificates pass through here too.
   */
  readonly #issuers = new BoundedMap<string, CertificateDer>(32);
  readonly stats = { hits: 0, misses: 0 };

  /**
   * 256 verified chains: the GPUs of 32 8-GPU CVMs, re-attested without their chains verified again. A larger fleet
   * cycles through more chains than any such cache holds (first in, first out), and each entry keeps its
   * certificates' OpenSSL memory: 1,024 held the controller's peak RSS at 1,000 CVMs 8 MB higher for no hits.
   */
  constructor(anchors: GpuTrustAnchors, maxEntries = 256) {
    this.#roots = anchors.roots.map((pem) => {
      const root = new X509Certificate(pem);
      if (!root.ca || !issuedBy(root, root))
        throw new Error(`Pinned root ${root.subject} is not a self-signed CA`);
      return root;
    });
    this.#cache = new BoundedMap(maxEntries);
  }

  /** Verifies the chain as of `now`; throws EvidenceError (ChainInvalid, CertificateExpired, EvidenceMalformed). */
  verify(certChainPem: string, now: Date): VerifiedDevice {
    // Keyed by the exact PEM text (at most ~5 KB × maxEntries held): cheaper than a SHA-256 of it per GPU.
    let device = this.#cache.get(certChainPem);
    if (device === undefined) {
      this.stats.misses++;
      device = this.#verifyUncached(certChainPem);
      this.#cache.set(certChainPem, device);
    } else {
      this.stats.hits++;
    }
    checkValidity(device.chain, now);
    return device;
  }

  #issuer(cert: X509Certificate): CertificateDer {
    const fingerprint = cert.fingerprint256;
    let parsed = this.#issuers.get(fingerprint);
    if (parsed === undefined) {
      parsed = parseCertificate(cert.raw, "chain certificate");
      this.#issuers.set(fingerprint, parsed);
    }
    return parsed;
  }

  #verifyUncached(certChainPem: string): VerifiedDevice {
    const [leafDer, ...rest] = parsePemCertificates(certChainPem, "gpus[].certChain");
    if (leafDer === undefined) throw new EvidenceError("EvidenceMalformed", "gpus[].certChain is empty");
    const leaf = evidenceCertificate(leafDer, "device leaf certificate");
    const path = pathToPinnedRoot(leaf, candidateIssuers(rest), this.#roots, {
      maxDepth: MAX_DEPTH,
      prefix: "",
      where: "the chain or pinned NVIDIA root",
      issued: this.#links.issued,
    });
    const parsed = path.map((cert, i) => (i === 0 ? parseCertificate(cert.raw, "leaf") : this.#issuer(cert)));
    checkProfile(path, parsed);
    const leafParsed = parsed[0] as CertificateDer;
    const leafName = commonName(leaf.subject);
    const ueidExtension = certificateUeid(leafParsed);
    const fwid = certificateFwid(leafParsed);
    return {
      ...modelOf(leafName),
      hwmodel: commonName(path[1]?.subject ?? ""),
      deviceIdentity: createHash("sha256")
        .update((path[1] ?? leaf).raw)
        .digest("hex"),
      ueid:
        ueidExtension === undefined
          ? BigInt(`0x${leaf.serialNumber}`).toString(10)
          : Buffer.from(ueidExtension).toString("hex"),
      leafKey: leaf.publicKey,
      ...(fwid === undefined ? {} : { fwid }),
      chain: path,
    };
  }
}

function checkProfile(path: readonly X509Certificate[], parsed: readonly CertificateDer[]): void {
  const [leaf, ...issuers] = path;
  const leafKey = leaf?.publicKey.asymmetricKeyDetails;
  if (leaf?.publicKey.asymmetricKeyType !== "ec" || leafKey?.namedCurve !== "secp384r1") {
    throw chainInvalid("device leaf key is not an ECDSA P-384 key");
  }
  parsed.forEach((cert, i) => {
    const name = commonName(path[i]?.subject ?? "");
    const unknown = unknownCriticalExtensions(cert, DEVICE_EXTENSIONS);
    if (unknown.length > 0)
      throw chainInvalid(`${name} has unknown critical extensions ${unknown.join(", ")}`);
    if (i === 0) {
      if (!allowsKeyUsage(cert, KEY_USAGE_BIT.digitalSignature)) {
        throw chainInvalid(`${name} may not sign (key usage)`);
      }
      return;
    }
    const { ca, pathLength } = basicConstraints(cert);
    if (!ca || !allowsKeyUsage(cert, KEY_USAGE_BIT.keyCertSign)) {
      throw chainInvalid(`${name} is not a CA but issued ${commonName(path[i - 1]?.subject ?? "")}`);
    }
    // Intermediate CAs below this one (the leaf is not a CA).
    if (pathLength !== undefined && i - 1 > pathLength) {
      throw chainInvalid(`${name} allows ${pathLength} intermediate CAs below it, the chain has ${i - 1}`);
    }
  });
  if (issuers.length === 0) throw chainInvalid("device chain has no issuer");
}
