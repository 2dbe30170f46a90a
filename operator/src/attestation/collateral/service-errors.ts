/**
 * The attestation services the operator asks, their answer size limits, and how their failures are told: which
 * service, which URL (credentials redacted), what went wrong. Nothing a failure says may carry a credential: header
 * values that look like one (an API key, a token) are scrubbed from every message, as are passwords in URLs.
 */
import { redactUserinfo, type NetworkFailureKind } from "../../http/network-failure.ts";
import { EvidenceError } from "../types.ts";

export type AttestationService = "intel-pcs" | "amd-kds" | "nvidia-rim" | "nvidia-ocsp" | "nvidia-nras";

interface ServiceInfo {
  /** For messages. */
  name: string;
  /** The default answer size limit. */
  maxBytes: number;
}

const KIB = 1024;
const MIB = 1024 * KIB;

const SERVICES: Readonly<Record<AttestationService, ServiceInfo>> = {
  // TCB info and QE identity JSON (tens of KiB), CRLs (a few KiB).
  "intel-pcs": { name: "Intel PCS", maxBytes: MIB },
  // A VCEK is ~1.4 KiB DER, an ASK+ARK chain ~4 KiB PEM.
  "amd-kds": { name: "AMD KDS", maxBytes: 64 * KIB },
  // A RIM (at most 512 KiB of XML) base64 inside JSON: ~683 KiB.
  "nvidia-rim": { name: "NVIDIA RIM service", maxBytes: 768 * KIB },
  "nvidia-ocsp": { name: "OCSP responder", maxBytes: 64 * KIB },
  "nvidia-nras": { name: "NVIDIA NRAS", maxBytes: MIB },
};

export const ATTESTATION_SERVICES = Object.keys(SERVICES) as readonly AttestationService[];

export function serviceInfo(service: AttestationService): ServiceInfo {
  const info = Object.hasOwn(SERVICES, service) ? SERVICES[service] : undefined;
  if (info === undefined)
    throw new RangeError(
      `attestation service client: unknown service ${JSON.stringify(service)} (known: ${ATTESTATION_SERVICES.join(", ")})`,
    );
  return info;
}

/** What ended a request: an HTTP answer, a size, a clock, or the network below (network-failure.ts). */
export type ServiceFailure =
  | "http-status"
  | "too-large"
  | "timeout"
  | "deadline"
  | "rate-limited"
  | "redirect"
  | "not-https"
  | NetworkFailureKind;

/** A service could not answer: CollateralUnavailable, with what the metrics and the caller may want to branch on. */
export class AttestationServiceError extends EvidenceError {
  readonly service: AttestationService;
  /** The URL asked, credentials redacted. */
  readonly url: string;
  readonly failure: ServiceFailure;
  readonly status: number | undefined;
  /** Requests sent (0 when none was: a bad URL, a rate limit still in force, the deadline already passed). */
  readonly attempts: number;

  constructor(details: {
    service: AttestationService;
    url: string;
    failure: ServiceFailure;
    attempts: number;
    status?: number;
    message: string;
  }) {
    // No `cause`: the underlying errors may carry what the message was scrubbed of (a proxy URL with a password).
    super("CollateralUnavailable", details.message);
    this.name = "AttestationServiceError";
    this.service = details.service;
    this.url = details.url;
    this.failure = details.failure;
    this.status = details.status;
    this.attempts = details.attempts;
  }
}

const SECRET_NAME = /key|token|secret|auth|cookie|passw|credential|signature/i;

/** `url` without user, password and the values of query parameters named like credentials. */
export function redactedUrl(url: URL): string {
  const copy = new URL(url.href);
  copy.username = "";
  copy.password = "";
  for (const name of new Set(copy.searchParams.keys()))
    if (SECRET_NAME.test(name)) copy.searchParams.set(name, "REDACTED");
  return copy.href;
}

/** Scrubs the values of credential-like `headers` (and URL passwords) from a text. */
export function secretScrubber(headers: Readonly<Record<string, string>>): (text: string) => string {
  const secrets = Object.entries(headers)
    .filter(([name, value]) => SECRET_NAME.test(name) && value.length > 0)
    .map(([, value]) => value)
    .sort((a, b) => b.length - a.length);
  return (text) =>
    redactUserinfo(secrets.reduce((scrubbed, secret) => scrubbed.split(secret).join("[redacted]"), text));
}

const SNIPPET_CHARS = 160;

/** A short, printable, quoted excerpt of an error answer's body ("" for none); binary bodies by their size. */
export function bodySnippet(body: Uint8Array): string {
  if (body.length === 0) return "";
  const text = Buffer.from(body).toString("utf8");
  const undecodable = text.split("\uFFFD").length - 1;
  if (undecodable > text.length / 10) return `(${body.length} bytes, not text)`;
  const printable = text.replace(/[\p{Cc}\p{Cf}\s]+/gu, " ").trim();
  if (printable === "") return "";
  return JSON.stringify(
    printable.length > SNIPPET_CHARS ? `${printable.slice(0, SNIPPET_CHARS)}…` : printable,
  );
}
