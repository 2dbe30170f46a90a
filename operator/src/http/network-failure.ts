/**
 * What went wrong below HTTP, named precisely: undici's `fetch` rejects with a bare "fetch failed" whose `cause`
 * carries the system error (code ENOTFOUND, ECONNREFUSED, a TLS verification code, UND_ERR_* ...); node:https
 * rejects with the system error itself. Both are walked down to the innermost error that says what happened.
 */
import { inspect } from "node:util";

export type NetworkFailureKind =
  | "dns"
  | "dns-temporary"
  | "connection-refused"
  | "connection-reset"
  | "tls"
  | "proxy"
  | "network";

export interface NetworkFailure {
  kind: NetworkFailureKind;
  /** Whether trying again may help (a refused or reset connection may; a certificate or a DNS NXDOMAIN will not). */
  retryable: boolean;
  /** e.g. `DNS lookup failed (ENOTFOUND: getaddrinfo ENOTFOUND pcs.invalid)`; credentials in URLs redacted. */
  text: string;
}

interface ErrorLink {
  code: string | undefined;
  message: string;
}

function chainOf(error: unknown): ErrorLink[] {
  const links: ErrorLink[] = [];
  const seen = new Set<unknown>();
  for (let current: unknown = error; current !== undefined && current !== null && !seen.has(current); ) {
    seen.add(current);
    if (current instanceof Error) {
      const code = (current as { code?: unknown }).code;
      links.push({
        code: typeof code === "string" && code !== "" ? code : undefined,
        message: current.message,
      });
      current = current.cause;
    } else {
      links.push({ code: undefined, message: inspect(current) });
      break;
    }
  }
  return links;
}

const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|UNABLE_TO_|CERT_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH)/;

const KINDS: readonly { kind: NetworkFailureKind; label: string; matches: (link: ErrorLink) => boolean }[] = [
  {
    kind: "proxy",
    label: "the proxy refused or failed the tunnel",
    matches: (l) => l.code === "ERR_PROXY_TUNNEL" || /\bproxy\b/i.test(l.message),
  },
  { kind: "dns", label: "DNS lookup failed", matches: (l) => l.code === "ENOTFOUND" },
  { kind: "dns-temporary", label: "DNS lookup failed (temporarily)", matches: (l) => l.code === "EAI_AGAIN" },
  { kind: "connection-refused", label: "connection refused", matches: (l) => l.code === "ECONNREFUSED" },
  {
    kind: "tls",
    label: "TLS failed",
    matches: (l) =>
      (l.code !== undefined && TLS_CODE.test(l.code)) || /certificate|\bTLS\b|\bSSL\b/.test(l.message),
  },
  {
    kind: "connection-reset",
    label: "connection closed",
    matches: (l) =>
      l.code === "ECONNRESET" ||
      l.code === "EPIPE" ||
      l.code === "UND_ERR_SOCKET" ||
      /socket hang up/.test(l.message),
  },
];

const RETRYABLE: ReadonlySet<NetworkFailureKind> = new Set([
  "dns-temporary",
  "connection-refused",
  "connection-reset",
  "network",
]);

/** Replaces the credentials of any `scheme://user:password@host` in `text` (a proxy URL in Node's messages). */
export function redactUserinfo(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@]+@/gi, "$1[redacted]@");
}

function linkText(link: ErrorLink): string {
  return link.code === undefined ? link.message : `${link.code}: ${link.message}`;
}

/** The precise cause of a transport failure (not an HTTP status: those are answers). */
export function describeNetworkFailure(error: unknown): NetworkFailure {
  const chain = chainOf(error);
  // The innermost link says what happened; outer ones ("fetch failed", "Request was cancelled.") only wrap it.
  for (const link of [...chain].reverse()) {
    const match = KINDS.find((k) => k.matches(link));
    if (match !== undefined)
      return {
        kind: match.kind,
        retryable: RETRYABLE.has(match.kind),
        text: redactUserinfo(`${match.label} (${linkText(link)})`),
      };
  }
  const innermost = chain[chain.length - 1];
  return {
    kind: "network",
    retryable: true,
    text: redactUserinfo(innermost === undefined ? "unknown network failure" : linkText(innermost)),
  };
}

/**
 * An error's message for a person, with the cause below it when the message does not already say it: undici's
 * bare "fetch failed" becomes `fetch failed: connection refused (ECONNREFUSED: connect ECONNREFUSED 10.0.0.1:443)`.
 */
export function messageWithCause(error: unknown): string {
  if (!(error instanceof Error)) return redactUserinfo(String(error));
  const chain = chainOf(error);
  const outer = chain[0];
  const innermost = chain[chain.length - 1];
  if (outer === undefined || innermost === undefined) return "unknown error";
  if (chain.length === 1 || outer.message.includes(innermost.message)) return redactUserinfo(outer.message);
  return redactUserinfo(`${outer.message}: ${describeNetworkFailure(error).text}`);
}
