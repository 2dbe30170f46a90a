import { readFile } from "node:fs/promises";
import { get } from "node:https";
import type { JWK } from "jose";
import { describeNetworkFailure } from "../http/network-failure.ts";
import { checkAttestationResult } from "../attestation/result/result-token.ts";
import {
  type Command,
  EXIT_FAILURE,
  EXIT_OK,
  InputError,
  type ParsedArgs,
  UsageError,
} from "../cli/command.ts";

const USAGE = `Usage: trustgate verify-token <jwt | @file> --jwks <file | https URL> [--ca-file <PEM>] [--at <RFC3339 time>]
                              [--issuer <iss>] [--subject <ns/name>] [--jkt <thumbprint>] [--tee tdx|snp]
                              [--policy-uid <uid>]

Checks a ConfidentialVM's signed attestation result offline: the signature by a key of the operator's
JWKS, the issuer, expiry, and an affirming result. Prints the claims as JSON.
--subject, --jkt, --tee and --policy-uid require the result to be that of this ConfidentialVM, for this guest key
(RFC 7638 thumbprint, base64url), TEE and AttestationPolicy: give them, or a valid result of another CVM passes.
--ca-file trusts these CA certificates (instead of the system's) for an https JWKS, e.g. the caBundle of
trustgate's webhook, which serves the JWKS at https://<webhook service>/.well-known/jwks.json.
Exit status: 0 valid and affirming, 1 otherwise, 2 the input could not be read.`;

function text(args: ParsedArgs, name: string): string | undefined {
  const value = args.values[name];
  return typeof value === "string" ? value : undefined;
}

/** GET over https, verifying the server against `ca` (PEM) when given, else the system's roots. */
function httpsText(url: string, ca: string | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = get(url, { ...(ca === undefined ? {} : { ca }), timeout: 10_000 }, (response) => {
      let body = "";
      response.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
      response.on("end", () => {
        if (response.statusCode === 200) resolve(body);
        else reject(new Error(`HTTP ${String(response.statusCode)}`));
      });
    });
    request.on("timeout", () => request.destroy(new Error("timed out after 10 s")));
    request.on("error", (error) => {
      reject(new Error(describeNetworkFailure(error).text, { cause: error }));
    });
  });
}

async function readJwks(source: string, caFile: string | undefined): Promise<{ keys: JWK[] }> {
  let body: string;
  try {
    if (source.startsWith("https://")) {
      body = await httpsText(source, caFile === undefined ? undefined : await readFile(caFile, "utf8"));
    } else if (source.startsWith("http://")) {
      throw new Error("a JWKS must come over https");
    } else {
      body = await readFile(source, "utf8");
    }
  } catch (error) {
    throw new InputError(
      `trustgate verify-token: cannot read the JWKS ${source}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (error) {
    throw new InputError(
      `trustgate verify-token: the JWKS ${source} is not JSON: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  const keys = (parsed as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys))
    throw new InputError(`trustgate verify-token: ${source} is not a JWKS (no "keys" array)`);
  return { keys: keys as JWK[] };
}

async function readToken(arg: string): Promise<string> {
  if (!arg.startsWith("@")) return arg.trim();
  try {
    return (await readFile(arg.slice(1), "utf8")).trim();
  } catch (error) {
    throw new InputError(`trustgate verify-token: cannot read ${arg.slice(1)}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

export const verifyTokenCommand: Command = {
  name: "verify-token",
  summary: "Check a signed attestation result offline against the operator's JWKS",
  usage: USAGE,
  options: {
    jwks: { type: "string" },
    "ca-file": { type: "string" },
    at: { type: "string" },
    issuer: { type: "string" },
    subject: { type: "string" },
    jkt: { type: "string" },
    tee: { type: "string" },
    "policy-uid": { type: "string" },
  },
  async run(args, io) {
    const [tokenArg, ...extra] = args.positionals;
    const jwksSource = text(args, "jwks");
    if (tokenArg === undefined || extra.length > 0)
      throw new UsageError("trustgate verify-token: give exactly one token");
    if (jwksSource === undefined) throw new UsageError("trustgate verify-token: --jwks is required");
    const at = text(args, "at");
    const now = at === undefined ? new Date() : new Date(at);
    if (Number.isNaN(now.getTime()))
      throw new UsageError(`trustgate verify-token: --at ${JSON.stringify(at)} is not a time`);
    const tee = text(args, "tee");
    if (tee !== undefined && tee !== "tdx" && tee !== "snp")
      throw new UsageError(`trustgate verify-token: --tee ${JSON.stringify(tee)} must be tdx or snp`);
    const expected = Object.fromEntries(
      (["issuer", "subject", "jkt", "tee", "policy-uid"] as const)
        .map((flag) => [flag === "policy-uid" ? "policyUid" : flag, text(args, flag)] as const)
        .filter(([, value]) => value !== undefined),
    );
    const check = await checkAttestationResult(
      await readToken(tokenArg),
      await readJwks(jwksSource, text(args, "ca-file")),
      { now, ...expected },
    );
    io.stdout(
      `${JSON.stringify(check.ok ? { valid: true, claims: check.claims } : { valid: false, reason: check.reason, claims: check.claims }, null, 2)}\n`,
    );
    return check.ok ? EXIT_OK : EXIT_FAILURE;
  },
};
