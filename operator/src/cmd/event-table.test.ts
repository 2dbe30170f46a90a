import { expect } from "chai";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeJwt } from "jose";
import type { Appraisal } from "../attestation/appraise.ts";
import { attestationResult } from "../attestation/result/attestation-result.ts";
import { generateSigningKey } from "../attestation/result/signing-keys.ts";
import { GCP_CCEL_DIR } from "../../test/support/evidence/gcp-ccel.ts";
import { tdxBundleFromItem } from "../../test/support/evidence/tdx-bundle-from-item.ts";
import { BUNDLE_KEY, BUNDLE_NONCE } from "../../test/support/shared-evidence.ts";
import { parseCommandArgs } from "../cli/command.ts";
import { renderEventTable } from "./event-table.ts";
import { verifyCommand } from "./verify.ts";

describe("per-event output of `trustgate verify` for the GCP TDX bundle", function () {
  this.timeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), "trustgate-event-table-"));
  let report: Appraisal;
  before(async () => {
    const path = join(dir, "bundle.json");
    writeFileSync(
      path,
      JSON.stringify(tdxBundleFromItem(GCP_CCEL_DIR, { nonce: BUNDLE_NONCE, publicKey: BUNDLE_KEY })),
    );
    let stdout = "";
    await verifyCommand.run(parseCommandArgs(verifyCommand, [path, "--at", "2025-06-20T00:00:00Z"]), {
      stdout: (text) => (stdout += text),
      stderr: () => undefined,
    });
    report = JSON.parse(stdout) as Appraisal;
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("JSON: tee.events lists every event with index, RTMR, type, digest, claim and description", () => {
    const events = report.tee.events ?? [];
    expect(events).to.have.length(43);
    expect(events[40]).to.deep.include({ index: 40, rtmr: 2, type: "EV_IPL", claim: "cmdline" });
    expect(events[40]?.value).to.match(/^\/syslinux\/vmlinuz\.A init=/);
    expect(events[39]).to.deep.include({
      claim: "kernel",
      description: 'event 39 (EV_IPL "/syslinux/vmlinuz.A", RTMR2)',
    });
    expect(events[39]?.digest).to.match(/^[0-9a-f]{96}$/);
    expect(report.tee.claims["kernel"]).to.equal(events[39]?.digest);
    expect(report.tee.claims["cmdline"]).to.equal(events[40]?.value);
  });

  it("text: renderEventTable prints one aligned line per event", () => {
    const lines = renderEventTable(report.tee.events ?? [])
      .trimEnd()
      .split("\n");
    expect(lines).to.have.length(44);
    expect(lines[0]).to.match(/^#\s+RTMR\s+TYPE\s+CLAIM\s+DIGEST\s+VALUE \/ DESCRIPTION$/);
    expect(lines[40]).to.match(
      /^39\s+2\s+EV_IPL\s+kernel\s+[0-9a-f]{16}\.\.\.\s+\(EV_IPL "\/syslinux\/vmlinuz\.A", RTMR2\)$/,
    );
    expect(lines[41]).to.match(
      /^40\s+2\s+EV_IPL\s+cmdline\s+[0-9a-f]{16}\.\.\.\s+\/syslinux\/vmlinuz\.A init=.{40,}\.\.\.$/,
    );
    expect(renderEventTable([])).to.equal("no event log\n");
  });

  it("the signed result carries the kernel and command-line claims in its cpu submodule", async () => {
    // The shared quote cannot bind a key of ours (BindingMismatch): sign what a bound bundle of the same boot yields.
    const bound: Appraisal = { ...report, verdict: "affirming", warnings: [] };
    const key = await generateSigningKey(new Date("2025-06-20T00:00:00Z"));
    const result = await attestationResult(bound, {
      issuer: "https://trustgate.example/",
      subject: "team-a/cvm",
      signingKey: key,
      now: new Date("2025-06-20T00:00:00Z"),
      resultTtlMs: 3_600_000,
      nonce: BUNDLE_NONCE,
      policy: { name: "gcp-cos113" },
    });
    const claims = decodeJwt(result.token ?? "") as { submods: { cpu: { claims: Record<string, unknown> } } };
    expect(claims.submods.cpu.claims["kernel"]).to.equal(report.tee.claims["kernel"]);
    expect(claims.submods.cpu.claims["cmdline"]).to.equal(report.tee.claims["cmdline"]);
    expect(claims.submods.cpu.claims["eventLog"]).to.equal("replayed");
    expect(result.tee?.claims?.["cmdline"]).to.equal(report.tee.claims["cmdline"]);
  });
});
