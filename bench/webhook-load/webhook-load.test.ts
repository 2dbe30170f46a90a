import { execFileSync, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { loopbackCertificates } from "../lib/loopback-tls.ts";

interface LoadResult {
  sent: number;
  answered: number;
  denied: number;
  errors: number;
  latencyMs: { p50: number; p99: number; max: number };
}

describe("bench/webhook-load (the Go client of the webhook latency benchmark)", function () {
  this.timeout(120_000);

  it("sends every review on schedule over TLS and counts answers, denials and failures", async () => {
    const binary = execFileSync("bash", [new URL("build.sh", import.meta.url).pathname], {
      encoding: "utf8",
    }).trim();
    const { ca, server: leaf } = loopbackCertificates();
    let served = 0;
    // Allows the reviews whose body says "ok", denies the others, fails every 50th with a 500.
    const server = createServer({ key: leaf.keyPem, cert: leaf.certPem }, (req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk.toString()));
      req.on("end", () => {
        served++;
        if (served % 50 === 0) res.writeHead(500).end();
        else res.writeHead(200).end(JSON.stringify({ response: { allowed: body.includes('"ok"') } }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const dir = await mkdtemp(join(tmpdir(), "webhook-load-test-"));
    try {
      await writeFile(join(dir, "ca.pem"), ca.certPem);
      await writeFile(join(dir, "bodies.json"), JSON.stringify(['{"ok"}', '{"no"}']));
      const { port } = server.address() as AddressInfo;
      const child = spawn(binary, [
        ...["-url", `https://127.0.0.1:${String(port)}/validate`, "-cacert", join(dir, "ca.pem")],
        ...["-bodies", join(dir, "bodies.json"), "-rate", "200", "-seconds", "1", "-warmup", "0.5"],
      ]);
      let out = "";
      child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
      expect(await new Promise((resolve) => child.on("close", resolve))).to.equal(0);
      const result = JSON.parse(out) as LoadResult;
      expect(result.sent).to.equal(200);
      expect(result.answered + result.errors).to.equal(200);
      expect(result.errors).to.be.within(3, 5); // every 50th of the 300 served, 4 of them in the measured 200
      expect(result.denied).to.be.within(95, 100);
      expect(result.latencyMs.p50).to.be.greaterThan(0);
      expect(result.latencyMs.max).to.be.at.least(result.latencyMs.p99);
    } finally {
      server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
