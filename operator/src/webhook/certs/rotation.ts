import {
  certificateFacts,
  type CertificateFacts,
  issueCertificate,
  type KeyPairPem,
  leafMatches,
  normalizeSan,
  splitPemBundle,
} from "./x509.ts";

/** What the webhook keeps in its Secret: the signing CA, every CA clients should trust, the serving pair. */
export interface TlsMaterial {
  ca?: KeyPairPem;
  /** PEM bundle for caBundle: the current CA first, then older CAs until they expire. */
  caBundle?: string;
  serving?: KeyPairPem;
}

export interface RotationPolicy {
  caLifetimeMs: number;
  certLifetimeMs: number;
  /** A certificate is replaced once this fraction of its lifetime has passed (default 2/3). */
  rotateAtFraction?: number;
}

export const DEFAULT_ROTATE_AT = 2 / 3;
/** notBefore is set this far back (at most a tenth of the lifetime) for clocks slightly behind ours. */
const MAX_BACKDATE_MS = 60_000;

/** The instant a certificate valid from notBefore to notAfter should be replaced. */
export function rotationTime(notBefore: Date, notAfter: Date, fraction = DEFAULT_ROTATE_AT): Date {
  return new Date(notBefore.getTime() + (notAfter.getTime() - notBefore.getTime()) * fraction);
}

/** Rotate now? Once `fraction` of the lifetime has passed, or when the certificate is expired or not yet valid. */
export function shouldRotate(
  notBefore: Date,
  notAfter: Date,
  now: Date,
  fraction = DEFAULT_ROTATE_AT,
): boolean {
  const t = now.getTime();
  return t < notBefore.getTime() || t >= rotationTime(notBefore, notAfter, fraction).getTime();
}

export interface CertificatePlan {
  /** "new": make a CA (the old one stays in the bundle until it expires). */
  ca: "keep" | "new";
  /** "new": issue a serving certificate from the current CA. */
  serving: "keep" | "new";
  reasons: string[];
  /** Older CAs (PEM) to keep trusting: unexpired, not the current one. */
  keepTrusting: string[];
  /** When to look again at the latest: the earlier of the two rotation times. */
  nextCheck: Date;
}

function facts(pem: string | undefined): CertificateFacts | undefined {
  if (pem === undefined || pem === "") return undefined;
  try {
    return certificateFacts(pem);
  } catch {
    return undefined;
  }
}

function caUsable(ca: KeyPairPem | undefined): CertificateFacts | undefined {
  const caFacts = facts(ca?.certPem);
  if (ca === undefined || caFacts === undefined || !caFacts.ca) return undefined;
  // The CA key must match its certificate: a self-issued check certificate proves it.
  return leafMatchesSelf(ca) ? caFacts : undefined;
}

function leafMatchesSelf(ca: KeyPairPem): boolean {
  return leafMatches(ca, ca.certPem);
}

/**
 * Decides what to (re)issue, from the Secret's current content alone (pure but for parsing): a CA when there
 * is none usable or it reached its rotation point; a serving certificate when there is none, it does not
 * match its key, was not signed by a trusted CA, lacks the wanted names, or reached its rotation point.
 * A CA rotation alone keeps the serving certificate (its CA stays trusted), so the API server never sees
 * a certificate from a CA before its caBundle has it.
 */
export function planCertificates(
  current: TlsMaterial,
  wantSans: readonly string[],
  now: Date,
  policy: RotationPolicy,
): CertificatePlan {
  const fraction = policy.rotateAtFraction ?? DEFAULT_ROTATE_AT;
  const reasons: string[] = [];
  const caFacts = caUsable(current.ca);
  let ca: CertificatePlan["ca"] = "keep";
  if (caFacts === undefined) {
    ca = "new";
    reasons.push(current.ca === undefined ? "no CA yet" : "the CA is unreadable or does not match its key");
  } else if (shouldRotate(caFacts.notBefore, caFacts.notAfter, now, fraction)) {
    ca = "new";
    reasons.push(`the CA reached its rotation time (expires ${caFacts.notAfter.toISOString()})`);
  }

  const keepTrusting = splitPemBundle(current.caBundle ?? "")
    .concat(ca === "new" && current.ca !== undefined ? splitPemBundle(current.ca.certPem) : [])
    .filter((pem) => {
      const f = facts(pem);
      return (
        f !== undefined &&
        f.notAfter.getTime() > now.getTime() &&
        (ca === "new" || f.fingerprint !== caFacts?.fingerprint)
      );
    })
    .filter(
      (pem, i, all) => all.findIndex((other) => facts(other)?.fingerprint === facts(pem)?.fingerprint) === i,
    );

  const trusted =
    ca === "keep" && current.ca !== undefined ? [current.ca.certPem, ...keepTrusting] : keepTrusting;
  const servingFacts = facts(current.serving?.certPem);
  const wanted = [...new Set(wantSans.map(normalizeSan))].sort();
  let serving: CertificatePlan["serving"] = "new";
  if (current.serving === undefined || servingFacts === undefined) reasons.push("no serving certificate yet");
  else if (!trusted.some((caPem) => leafMatches(current.serving as KeyPairPem, caPem))) {
    reasons.push("the serving certificate is not from a trusted CA or does not match its key");
  } else if (servingFacts.sans.join(",") !== wanted.join(",")) {
    reasons.push(`the serving certificate names ${servingFacts.sans.join(", ")}, not ${wanted.join(", ")}`);
  } else if (shouldRotate(servingFacts.notBefore, servingFacts.notAfter, now, fraction)) {
    reasons.push(
      `the serving certificate reached its rotation time (expires ${servingFacts.notAfter.toISOString()})`,
    );
  } else serving = "keep";

  const checks = [
    ca === "keep" && caFacts !== undefined
      ? rotationTime(caFacts.notBefore, caFacts.notAfter, fraction)
      : undefined,
    serving === "keep" && servingFacts !== undefined
      ? rotationTime(servingFacts.notBefore, servingFacts.notAfter, fraction)
      : undefined,
  ].filter((d): d is Date => d !== undefined);
  const nextCheck = new Date(
    Math.min(...checks.map((d) => d.getTime()), now.getTime() + policy.certLifetimeMs),
  );
  return { ca, serving, reasons, keepTrusting, nextCheck };
}

/** Carries out a plan: issues what it says and returns the new Secret content (unchanged when it says keep). */
export function applyPlan(
  current: TlsMaterial,
  plan: CertificatePlan,
  names: { caName: string; sans: readonly string[] },
  now: Date,
  policy: RotationPolicy,
): TlsMaterial {
  if (plan.ca === "keep" && plan.serving === "keep") return current;
  const backdate = (lifetime: number): Date =>
    new Date(now.getTime() - Math.min(MAX_BACKDATE_MS, lifetime / 10));
  const ca =
    plan.ca === "new" || current.ca === undefined
      ? issueCertificate({
          commonName: `${names.caName}@${Math.floor(now.getTime() / 1000)}`,
          ca: true,
          notBefore: backdate(policy.caLifetimeMs),
          notAfter: new Date(now.getTime() + policy.caLifetimeMs),
        })
      : current.ca;
  const caNotAfter = certificateFacts(ca.certPem).notAfter.getTime();
  const serving =
    plan.serving === "new" || current.serving === undefined
      ? issueCertificate({
          commonName: names.sans[0] ?? names.caName,
          ca: false,
          notBefore: backdate(policy.certLifetimeMs),
          // Never outlive the CA that signed it.
          notAfter: new Date(Math.min(now.getTime() + policy.certLifetimeMs, caNotAfter)),
          sans: names.sans,
          issuer: ca,
        })
      : current.serving;
  return { ca, caBundle: [ca.certPem, ...plan.keepTrusting].join(""), serving };
}
