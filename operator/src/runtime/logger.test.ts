import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { ApiException } from "@kubernetes/client-node";
import { expect } from "chai";
import { KubeApiError } from "../kube/rest-api-error.ts";
import { createLogger, noncePrefix } from "./logger.ts";

interface Line {
  level: unknown;
  time: unknown;
  name: string;
  msg: string;
  err?: Record<string, unknown>;
  [field: string]: unknown;
}

function capture(
  name: string,
  level = "info",
): { log: ReturnType<typeof createLogger>; lines: () => Line[]; raw: () => string[] } {
  const raw: string[] = [];
  const log = createLogger(name, level, { write: (chunk: string) => raw.push(chunk) });
  return { log, raw: () => raw, lines: () => raw.map((text) => JSON.parse(text) as Line) };
}

const REPO = join(import.meta.dirname, "../../..");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts") && !e.name.endsWith(".test.ts"))
    .map((e) => join(e.parentPath, e.name));
}

/** What client-node throws for a 404: its message embeds the body and every response header. */
function notFoundException(): ApiException<string> {
  const body = JSON.stringify({
    kind: "Status",
    apiVersion: "v1",
    status: "Failure",
    message: 'confidentialhosts.trustgate.io "gpu-node-1" not found',
    reason: "NotFound",
    details: { name: "gpu-node-1", group: "trustgate.io", kind: "confidentialhosts" },
    code: 404,
  });
  const headers: Record<string, string> = {
    "audit-id": "5f0c2a1e-8b7d-4a51-9f0e-2f6f6c1d9a77",
    "cache-control": "no-cache, private",
    "content-type": "application/json",
    "x-kubernetes-pf-flowschema-uid": "0c7d3e3a-9f5e-4a8e-8a0b-7e0f3f7d7f11",
    "x-kubernetes-pf-prioritylevel-uid": "3a9c1b2d-1e4f-4b6a-9c8d-7e6f5a4b3c2d",
    date: "Mon, 07 Dec 2026 06:00:00 GMT",
    "content-length": String(body.length),
  };
  return new ApiException(404, "Unknown API Status Code!", body, headers);
}

describe("createLogger", () => {
  it("writes string levels and ISO-8601 UTC timestamps, as log pipelines expect", () => {
    const { log, lines } = capture("trustgate-controller");
    log.info({ node: "gpu-1" }, "Validated host");
    log.warn("Slow");
    const [info, warn] = lines();
    expect(info?.level).to.equal("info");
    expect(warn?.level).to.equal("warn");
    expect(info?.time)
      .to.be.a("string")
      .and.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(Math.abs(Date.parse(String(info?.time)) - Date.now())).to.be.below(5000);
    expect(info).to.include({ name: "trustgate-controller", msg: "Validated host", node: "gpu-1" });
  });

  it("logs a client-node ApiException as code, reason and message in under 300 bytes, without headers or stack", () => {
    const error = notFoundException();
    expect(error.message.length, "what pino's default serializer would write").to.be.above(600);
    const { log, raw, lines } = capture("trustgate-controller");
    log.warn({ err: error, key: "default/cvm-a" }, "Reconcile failed");
    expect(Buffer.byteLength(raw()[0] ?? "")).to.be.at.most(300);
    expect(lines()[0]?.err).to.deep.equal({
      type: "ApiException",
      code: 404,
      reason: "NotFound",
      message: 'confidentialhosts.trustgate.io "gpu-node-1" not found',
    });
    for (const leaked of ["audit-id", "x-kubernetes-pf", "HTTP-Code", "    at "])
      expect(raw()[0], leaked).to.not.include(leaked);
  });

  it("logs an ApiException whose body is not a Status by its code, and clips long messages", () => {
    const { log, lines } = capture("trustgate-webhook");
    log.error({ err: new ApiException(502, "Bad Gateway", "x".repeat(5000), { via: "proxy" }) }, "Failed");
    const err = lines()[0]?.err;
    expect(err).to.include({ type: "ApiException", code: 502 });
    expect(String(err?.["message"]).length).to.be.at.most(201);
    expect(err).to.not.have.property("headers");
  });

  it("logs the light client's KubeApiError with its code and reason", () => {
    const { log, lines } = capture("trustgate-agent");
    log.error({ err: new KubeApiError(403, "Forbidden", 'nodes "x" is forbidden') }, "Failed to publish");
    expect(lines()[0]?.err).to.deep.equal({
      type: "KubeApiError",
      code: 403,
      reason: "Forbidden",
      message: 'nodes "x" is forbidden',
    });
  });

  it("keeps the causes of a bare 'fetch failed' (the system error code says what happened)", () => {
    const system = Object.assign(new Error("connect ECONNREFUSED 10.0.0.1:443"), { code: "ECONNREFUSED" });
    const { log, lines } = capture("trustgate-controller");
    log.warn({ err: new TypeError("fetch failed", { cause: system }) }, "NRAS unreachable");
    expect(lines()[0]?.err).to.deep.equal({
      type: "TypeError",
      message: "fetch failed",
      causes: ["ECONNREFUSED: connect ECONNREFUSED 10.0.0.1:443"],
    });
  });

  it("adds the stack only at debug level", () => {
    const debug = capture("trustgate-guest", "debug");
    debug.log.error({ err: new Error("boom") }, "Failed");
    expect(String(debug.lines()[0]?.err?.["stack"])).to.include("    at ");
    const info = capture("trustgate-guest", "info");
    info.log.error({ err: new Error("boom") }, "Failed");
    expect(info.lines()[0]?.err).to.not.have.property("stack");
  });

  it("never writes key material, tokens, sealed secrets or credentials", () => {
    const { log, raw } = capture("trustgate-controller");
    const values = {
      privateKey: "PRIVATE-KEY-VALUE",
      token: "eyJ.TOKEN-VALUE",
      jwe: "JWE-VALUE",
      authorization: "Bearer AUTH-VALUE",
      password: "PASSWORD-VALUE",
    };
    log.info({ ...values, key: { kty: "EC", d: "D-VALUE" }, result: { token: "NESTED-TOKEN" } }, "x");
    log.info({ request: { authorization: "Bearer NESTED-AUTH", secret: "NESTED-SECRET", key: "K" } }, "y");
    const text = raw().join("");
    for (const secret of [
      ...Object.values(values),
      "D-VALUE",
      "NESTED-TOKEN",
      "NESTED-AUTH",
      "NESTED-SECRET",
    ])
      expect(text, secret).to.not.include(secret);
    expect(text).to.include("[redacted]");
  });

  it("is the only pino instance in the components (controller, webhook, agent, guest all log through it)", () => {
    const users = [
      ...sourceFiles(join(REPO, "operator/src")),
      ...sourceFiles(join(REPO, "guest/src")),
    ].filter((file) => /\bpino\(/.test(readFileSync(file, "utf8")));
    expect(users.map((f) => relative(REPO, f))).to.deep.equal(["operator/src/runtime/logger.ts"]);
    const commands = ["controller", "webhook", "agent", "guest"].map((c) =>
      readFileSync(join(REPO, `operator/src/cmd/${c}.ts`), "utf8"),
    );
    for (const [i, text] of commands.entries()) expect(text, String(i)).to.match(/createLogger\("trustgate-/);
  });

  it("no log call passes a `name` field, which would shadow the component's name (pino writes both keys)", () => {
    const offenders: string[] = [];
    for (const file of [
      ...sourceFiles(join(REPO, "operator/src")),
      ...sourceFiles(join(REPO, "guest/src")),
    ]) {
      const text = readFileSync(file, "utf8");
      for (const call of text.matchAll(
        /\blog\w*\.(?:trace|debug|info|warn|error|fatal|child)\(\s*\{([^}]*)\}/g,
      ))
        if (/(?:^|[{,])\s*name\s*(?:[:,]|$)/.test(call[1] ?? "")) offenders.push(relative(REPO, file));
    }
    expect(offenders).to.deep.equal([]);
  });

  it("shortens a challenge nonce to the 8-digit prefix both sides log", () => {
    expect(noncePrefix("0123456789abcdef".repeat(4))).to.equal("01234567");
    expect(noncePrefix(undefined)).to.equal(undefined);
    expect(noncePrefix("")).to.equal(undefined);
  });
});
