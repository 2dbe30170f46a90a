import { expect } from "chai";
import {
  describeNetworkFailure,
  messageWithCause,
  redactUserinfo,
  type NetworkFailureKind,
} from "./network-failure.ts";

function systemError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/** As undici's fetch rejects: a bare "fetch failed" around what happened. */
function fetchFailed(cause: unknown): TypeError {
  return new TypeError("fetch failed", { cause });
}

describe("describeNetworkFailure", () => {
  it("names the innermost cause of node:https and fetch failures", () => {
    const cases: { error: unknown; kind: NetworkFailureKind; retryable: boolean; text: string }[] = [
      {
        error: fetchFailed(systemError("ENOTFOUND", "getaddrinfo ENOTFOUND pcs.invalid")),
        kind: "dns",
        retryable: false,
        text: "DNS lookup failed (ENOTFOUND: getaddrinfo ENOTFOUND pcs.invalid)",
      },
      {
        error: systemError("EAI_AGAIN", "getaddrinfo EAI_AGAIN kdsintf.amd.com"),
        kind: "dns-temporary",
        retryable: true,
        text: "DNS lookup failed (temporarily) (EAI_AGAIN: getaddrinfo EAI_AGAIN kdsintf.amd.com)",
      },
      {
        error: fetchFailed(systemError("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:4443")),
        kind: "connection-refused",
        retryable: true,
        text: "connection refused (ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:4443)",
      },
      {
        error: systemError("DEPTH_ZERO_SELF_SIGNED_CERT", "self-signed certificate"),
        kind: "tls",
        retryable: false,
        text: "TLS failed (DEPTH_ZERO_SELF_SIGNED_CERT: self-signed certificate)",
      },
      {
        error: fetchFailed(
          systemError("ERR_TLS_CERT_ALTNAME_INVALID", "Hostname/IP does not match certificate's altnames"),
        ),
        kind: "tls",
        retryable: false,
        text: "TLS failed (ERR_TLS_CERT_ALTNAME_INVALID: Hostname/IP does not match certificate's altnames)",
      },
      {
        error: systemError("UNABLE_TO_VERIFY_LEAF_SIGNATURE", "unable to verify the first certificate"),
        kind: "tls",
        retryable: false,
        text: "TLS failed (UNABLE_TO_VERIFY_LEAF_SIGNATURE: unable to verify the first certificate)",
      },
      {
        // undici, NODE_USE_ENV_PROXY=1 and a proxy answering 403 to CONNECT.
        error: fetchFailed(
          Object.assign(new Error("Request was cancelled."), {
            code: 0,
            cause: systemError("UND_ERR_ABORTED", "Proxy response (403) !== 200 when HTTP Tunneling"),
          }),
        ),
        kind: "proxy",
        retryable: false,
        text: "the proxy refused or failed the tunnel (UND_ERR_ABORTED: Proxy response (403) !== 200 when HTTP Tunneling)",
      },
      {
        // node:https through an agent with proxyEnv; the proxy's password is not repeated.
        error: systemError(
          "ERR_PROXY_TUNNEL",
          "Failed to establish tunnel to pcs.example:443 via http://user:s3cret@proxy:3128: HTTP/1.1 403 Forbidden",
        ),
        kind: "proxy",
        retryable: false,
        text: "the proxy refused or failed the tunnel (ERR_PROXY_TUNNEL: Failed to establish tunnel to pcs.example:443 via http://[redacted]@proxy:3128: HTTP/1.1 403 Forbidden)",
      },
      {
        error: fetchFailed(systemError("UND_ERR_SOCKET", "other side closed")),
        kind: "connection-reset",
        retryable: true,
        text: "connection closed (UND_ERR_SOCKET: other side closed)",
      },
      {
        error: systemError("ECONNRESET", "socket hang up"),
        kind: "connection-reset",
        retryable: true,
        text: "connection closed (ECONNRESET: socket hang up)",
      },
      {
        error: fetchFailed(new Error("bad port")),
        kind: "network",
        retryable: true,
        text: "bad port",
      },
      { error: "a string", kind: "network", retryable: true, text: "'a string'" },
    ];
    for (const { error, kind, retryable, text } of cases)
      expect(describeNetworkFailure(error), text).to.deep.equal({ kind, retryable, text });
  });

  it("survives a cause cycle", () => {
    const a = new Error("a");
    const b = new Error("b", { cause: a });
    (a as { cause?: unknown }).cause = b;
    expect(describeNetworkFailure(a).kind).to.equal("network");
  });

  it("redacts credentials of URLs in any text", () => {
    expect(redactUserinfo("via http://u:p@proxy:3128 and https://token@x.example/a")).to.equal(
      "via http://[redacted]@proxy:3128 and https://[redacted]@x.example/a",
    );
    expect(redactUserinfo("https://pcs.example/a?b=c")).to.equal("https://pcs.example/a?b=c");
  });
});

describe("messageWithCause", () => {
  const refused = Object.assign(new Error("connect ECONNREFUSED 10.0.0.1:443"), { code: "ECONNREFUSED" });
  it("adds the cause below a message that does not say it (undici's fetch failed)", () => {
    expect(messageWithCause(new TypeError("fetch failed", { cause: refused }))).to.equal(
      "fetch failed: connection refused (ECONNREFUSED: connect ECONNREFUSED 10.0.0.1:443)",
    );
    const tls = Object.assign(new Error("self-signed certificate"), { code: "DEPTH_ZERO_SELF_SIGNED_CERT" });
    expect(messageWithCause(new TypeError("fetch failed", { cause: tls }))).to.equal(
      "fetch failed: TLS failed (DEPTH_ZERO_SELF_SIGNED_CERT: self-signed certificate)",
    );
  });

  it("keeps a message that already names its cause, or has none, and redacts credentials", () => {
    expect(messageWithCause(new Error(`GET /api: ${refused.message}`, { cause: refused }))).to.equal(
      "GET /api: connect ECONNREFUSED 10.0.0.1:443",
    );
    expect(messageWithCause(new Error("plain"))).to.equal("plain");
    expect(messageWithCause("a string")).to.equal("a string");
    expect(messageWithCause(new Error("via https://u:p@proxy:3128 failed"))).to.equal(
      "via https://[redacted]@proxy:3128 failed",
    );
  });
});
