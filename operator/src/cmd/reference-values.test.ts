import { expect } from "chai";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import type { Appraisal } from "../attestation/appraise.ts";
import { BUNDLE_KEY, BUNDLE_NONCE } from "../../test/support/shared-evidence.ts";
import { GCP_CCEL_DIR } from "../../test/support/evidence/gcp-ccel.ts";
import { tdxBundleFromItem } from "../../test/support/evidence/tdx-bundle-from-item.ts";
import { parseCommandArgs, UsageError, type Command } from "../cli/command.ts";
import { syntheticOvmf } from "../../test/support/builders/synthetic-ovmf.ts";
import { referenceValuesCommand } from "./reference-values.ts";
import { referenceValuesSnpCommand } from "./reference-values-snp.ts";
import { verifyCommand } from "./verify.ts";

/** The GCP item's MANIFEST: its collateral_2025-06 is current then, and the quote's TCB UpToDate. */
const AT = "2025-06-20T00:00:00Z";

async function run(command: Command, argv: string[]): Promise<{ code: number; stdout: string }> {
  let stdout = "";
  const code = await command.run(parseCommandArgs(command, argv), {
    stdout: (text) => (stdout += text),
    stderr: () => undefined,
  });
  return { code, stdout };
}

async function usageError(argv: string[]): Promise<string> {
  try {
    await run(referenceValuesCommand, argv);
  } catch (error) {
    expect(error).to.be.instanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error("no UsageError");
}

describe("trustgate reference-values on the real GCP TDX boot (google-gcp-cos113-ccel)", function () {
  this.timeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), "trustgate-reference-values-"));
  const bundlePath = join(dir, "bundle.json");
  const policyPath = join(dir, "policy.yaml");
  const bundle = tdxBundleFromItem(GCP_CCEL_DIR, { nonce: BUNDLE_NONCE, publicKey: BUNDLE_KEY });
  let policyText = "";
  before(async () => {
    writeFileSync(bundlePath, JSON.stringify(bundle));
    policyText = (await run(referenceValuesCommand, ["--from", bundlePath, "--name", "gcp-cos113"])).stdout;
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const verifyWith = async (yaml: string): Promise<Appraisal> => {
    writeFileSync(policyPath, yaml);
    const { stdout } = await run(verifyCommand, [bundlePath, "--at", AT, "--policy", policyPath]);
    return JSON.parse(stdout) as Appraisal;
  };

  it("pins MRTD, MRSEAM, RTMR0 and the boot's kernel, cmdline and Secure Boot variables, with what each depends on", () => {
    const policy = parse(policyText) as {
      metadata: { name: string };
      spec: { tdx: Record<string, unknown> };
    };
    expect(policy.metadata.name).to.equal("gcp-cos113");
    const tdx = policy.spec.tdx;
    expect(tdx["mrTd"]).to.deep.equal([
      "dae67181d3d65e073ad8f95b7907d5e927bfe9761c9ff3e9b89734a45d8954dba41394c7717cb2735396c1d04231f94a",
    ]);
    expect(tdx["rtmr0"]).to.deep.equal([
      "3fa2f61f395b7f5feefb4ec2df61297f109ad8abcd6410c1b7df60f21f37b19297fc35e544039c7e1edece752afd17f6",
    ]);
    expect(tdx).to.not.have.any.keys("rtmr1", "rtmr2", "requireSecureBoot");
    expect(tdx["unknownEvents"]).to.equal("deny");
    const events = tdx["events"] as Record<string, unknown>;
    expect(Object.keys(events).sort()).to.deep.equal(["cmdline", "kernel", "secureBootVariables"]);
    expect((events["cmdline"] as string[])[0]).to.match(
      /^\/syslinux\/vmlinuz\.A init=\/usr\/lib\/systemd\/systemd /,
    );
    expect(Object.keys(events["secureBootVariables"] as object)).to.deep.equal([
      "SecureBoot",
      "PK",
      "KEK",
      "db",
      "dbx",
    ]);
    expect(policyText).to.include(
      "# MRTD: the TD firmware (TDVF/OVMF) build shipped in KubeVirt's virt-launcher image",
    );
    expect(policyText).to.include(
      "# RTMR0: the firmware's configuration of this VM: its shape (vCPU count, memory size, number of GPUs",
    );
    expect(policyText).to.include(
      "# The kernel or UKI image (SHA-384); changes with every kernel build (event 39, EV_IPL, RTMR2).",
    );
    expect(policyText).to.include("# This boot had Secure Boot off (SecureBoot=0)");
  });

  it("the generated policy passes the bundle: no violation, no error, UpToDate; only the binding cannot hold", async () => {
    const report = await verifyWith(policyText);
    expect(report.policy.violations).to.deep.equal([]);
    expect(report.tee.errors).to.deep.equal([]);
    expect(report.tee.tcbStatus).to.equal("UpToDate");
    expect(report.tee.claims["eventLog"]).to.equal("replayed");
    expect(report.tee.events).to.have.length(43);
    // A third party's quote has REPORTDATA = 0, never SHA-512(nonce ‖ key) of a bundle of ours: affirming would need
    // a bundle whose quote binds its key. Everything the policy checks passes; nothing but the binding remains.
    expect(report.warnings.map((warning) => warning.code)).to.deep.equal(["BindingMismatch"]);
    expect(report.verdict).to.equal("warning");
  });

  it("one changed command-line character makes it contraindicated, naming the command-line event", async () => {
    const changed = policyText.replace("rootwait", "rootwaiT");
    expect(changed).to.not.equal(policyText);
    const report = await verifyWith(changed);
    expect(report.verdict).to.equal("contraindicated");
    expect(report.policy.violations).to.have.length(1);
    expect(report.policy.violations[0]?.field).to.equal("spec.tdx.events.cmdline");
    expect(report.policy.violations[0]?.message).to.match(
      /^spec\.tdx\.events\.cmdline: event 40 \(EV_IPL "kernel_cmdline: \/syslinux\/vmlinuz\.A init=.*", RTMR2\) has command line "\/syslinux\/vmlinuz\.A init=\/usr\/lib\/systemd\/systemd rootwait /,
    );
  });

  it("from `trustgate verify` output it prints the same policy", async () => {
    const { stdout } = await run(verifyCommand, [bundlePath, "--at", AT]);
    const verifyOutput = join(dir, "verify.json");
    writeFileSync(verifyOutput, stdout);
    const fromOutput = (await run(referenceValuesCommand, ["--from", verifyOutput, "--name", "gcp-cos113"]))
      .stdout;
    expect(fromOutput.split("\n").slice(1)).to.deep.equal(policyText.split("\n").slice(1));
  });

  it("from the guest's self-check summary (as the guest logs it) it prints the same policy", async () => {
    const { createSelfCheck } = await import("../../../guest/src/self-check.ts");
    const summary = await (await createSelfCheck())(bundle);
    const summaryPath = join(dir, "self-check.json");
    writeFileSync(summaryPath, JSON.stringify(summary));
    const fromSummary = (await run(referenceValuesCommand, ["--from", summaryPath, "--name", "gcp-cos113"]))
      .stdout;
    expect(fromSummary.split("\n").slice(1)).to.deep.equal(policyText.split("\n").slice(1));
  });

  it("a bundle without an event log pins the registers and says why nothing else", async () => {
    const bare = { ...bundle, tee: { ...bundle.tee } };
    delete bare.tee.eventLog;
    const path = join(dir, "bare.json");
    writeFileSync(path, JSON.stringify(bare));
    const { stdout } = await run(referenceValuesCommand, ["--from", path]);
    expect(stdout).to.include("# No event-level claims: the bundle carries no event log (tee.eventLog)");
    expect((parse(stdout) as { spec: { tdx: object } }).spec.tdx).to.have.all.keys("mrTd", "mrSeam", "rtmr0");
  });

  it("refuses a log that does not replay, SNP evidence, non-JSON and a missing --from, with the reason", async () => {
    const forged = {
      ...bundle,
      tee: {
        ...bundle.tee,
        eventLog: Buffer.from(bundle.tee.eventLog ?? "", "base64")
          .subarray(0, 18000)
          .toString("base64"),
      },
    };
    const forgedPath = join(dir, "forged.json");
    writeFileSync(forgedPath, JSON.stringify(forged));
    expect(await usageError(["--from", forgedPath])).to.match(
      /forged\.json: EvidenceMalformed: the bundle's event log cannot give reference values: tee\.eventLog: truncated/,
    );
    const snpPath = join(dir, "snp.json");
    writeFileSync(
      snpPath,
      JSON.stringify({ nonce: BUNDLE_NONCE, publicKey: BUNDLE_KEY, tee: { type: "snp", report: "AA==" } }),
    );
    expect(await usageError(["--from", snpPath])).to.include(
      "is SNP evidence, whose launch MEASUREMENT is computed from the firmware, not read from a boot",
    );
    const textPath = join(dir, "text.json");
    writeFileSync(textPath, "not json");
    expect(await usageError(["--from", textPath])).to.include("is not JSON");
    expect(await usageError([])).to.include("give --from");
    expect(await usageError(["--from", bundlePath, "--name", "Bad_Name"])).to.include(
      "is not a Kubernetes object name",
    );
  });
});

describe("trustgate reference-values snp (the SEV-SNP branch of the same command)", () => {
  const dir = mkdtempSync(join(tmpdir(), "trustgate-refvalues-snp-"));
  const ovmf = join(dir, "OVMF.fd");
  before(() => {
    writeFileSync(ovmf, syntheticOvmf());
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("prints the same measurements through reference-values snp as the SNP command itself", async () => {
    const argv = ["--ovmf", ovmf, "--vcpus", "1,4", "--vcpu-type", "EPYC-v4", "-o", "hex"];
    const through = await run(referenceValuesCommand, ["snp", ...argv]);
    const direct = await run(referenceValuesSnpCommand, argv);
    expect(through.code).to.equal(0);
    expect(through.stdout).to.equal(direct.stdout);
    expect(through.stdout.trim().split("\n")).to.have.length(2);
  });

  it("keeps the two branches' flags apart", async () => {
    expect(await usageError(["snp", "--from", ovmf])).to.include("--from is for TDX");
    expect(await usageError(["--ovmf", ovmf, "--vcpus", "1"])).to.include("--ovmf is for SNP");
  });
});
