import { expect } from "chai";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { syntheticOvmf } from "../../test/support/builders/synthetic-ovmf.ts";
import { validateAttestationPolicy } from "../api/v1alpha1/validation.ts";
import { computeSnpLaunchMeasurement, parseOvmf } from "../attestation/snp/launch-measurement/index.ts";
import { parseCommandArgs, UsageError } from "../cli/command.ts";
import { referenceValuesSnpCommand } from "./reference-values-snp.ts";

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const io = { stdout: (t: string) => (stdout += t), stderr: (t: string) => (stderr += t) };
  const code = await referenceValuesSnpCommand.run(parseCommandArgs(referenceValuesSnpCommand, argv), io);
  return { code, stdout, stderr };
}

describe("trustgate reference-values snp", () => {
  let dir: string;
  let ovmf: string;
  const image = syntheticOvmf();
  const expected = (vcpus: number, type = "EPYC-v4"): string =>
    Buffer.from(
      computeSnpLaunchMeasurement(parseOvmf(image), {
        vcpus,
        vcpu: { type },
        vmm: "QEMU",
        guestFeatures: 1n,
      }),
    ).toString("hex");

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "snp-refvals-"));
    ovmf = join(dir, "OVMF.fd");
    writeFileSync(ovmf, image);
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("prints a valid AttestationPolicy pinning one measurement per vCPU count, with what each depends on", async () => {
    const { code, stdout } = await run([
      "--ovmf",
      ovmf,
      "--vcpus",
      "1,2",
      "--vcpus",
      "4",
      "--vcpu-type",
      "EPYC-v4",
      "--name",
      "llm-snp",
    ]);
    expect(code).to.equal(0);
    const policy = parse(stdout) as { metadata: { name: string }; spec: { snp: { measurement: string[] } } };
    expect(validateAttestationPolicy(policy).ok).to.equal(true);
    expect(policy.metadata.name).to.equal("llm-snp");
    expect(policy.spec.snp.measurement).to.deep.equal([expected(1), expected(2), expected(4)]);
    expect(stdout).to.include("vCPU signature 0x800f12");
    expect(stdout).to.match(/NOT measured under KubeVirt/);
    expect(stdout).to.include(`# 2 vCPUs`);
  });

  it("prints one hex digest per line with -o hex, and a JSON report with -o json", async () => {
    const hex = await run(["--ovmf", ovmf, "--vcpus", "2,8", "--vcpu-type", "EPYC-Milan", "-o", "hex"]);
    expect(hex.stdout).to.equal(`${expected(2, "EPYC-Milan")}\n${expected(8, "EPYC-Milan")}\n`);
    const json = await run(["--ovmf", ovmf, "--vcpus", "1", "--vmm-type", "gce", "-o", "json"]);
    const report = JSON.parse(json.stdout) as {
      vmm: string;
      vcpuSignature: unknown;
      ovmf: { bytes: number };
    };
    expect(report).to.include({ vmm: "gce", vcpuSignature: null });
    expect(report.ovmf.bytes).to.equal(image.length);
  });

  it("accepts the vCPU as signature or family/model/stepping, with the same result as the type name", async () => {
    const bySig = await run(["--ovmf", ovmf, "--vcpus", "2", "--vcpu-sig", "0xa00f11", "-o", "hex"]);
    const byFms = await run([
      "--ovmf",
      ovmf,
      "--vcpus",
      "2",
      "--vcpu-family",
      "25",
      "--vcpu-model",
      "1",
      "--vcpu-stepping",
      "1",
      "-o",
      "hex",
    ]);
    expect(bySig.stdout).to.equal(`${expected(2, "EPYC-Milan")}\n`);
    expect(byFms.stdout).to.equal(bySig.stdout);
  });

  const failures: [string, string[], RegExp][] = [
    [
      "a file that is not OVMF",
      ["--vcpus", "1", "--vcpu-type", "EPYC"],
      /no table footer GUID .* \(NotOvmf\)/,
    ],
    ["0 vCPUs", ["--vcpus", "0", "--vcpu-type", "EPYC"], /vCPU count 0 .*\(InvalidVcpuCount\)/],
    [
      "an unknown vCPU type",
      ["--vcpus", "1", "--vcpu-type", "EPYC-Z"],
      /unknown vCPU type "EPYC-Z".*\(UnknownVcpuType\)/,
    ],
    ["an unknown VMM", ["--vcpus", "1", "--vmm-type", "xen"], /unknown VMM type "xen".*\(UnknownVmmType\)/],
    [
      "features without SNPActive",
      ["--vcpus", "1", "--vcpu-type", "EPYC", "--guest-features", "0x20"],
      /\(InvalidGuestFeatures\)/,
    ],
  ];
  for (const [what, argv, message] of failures) {
    it(`exits 1 naming the problem for ${what}`, async () => {
      const notOvmf = join(dir, "zeros.fd");
      writeFileSync(notOvmf, Buffer.alloc(8192));
      const file = what.includes("not OVMF") ? notOvmf : ovmf;
      const { code, stdout, stderr } = await run(["--ovmf", file, ...argv]);
      expect(code).to.equal(1);
      expect(stdout).to.equal("");
      expect(stderr).to.match(message);
    });
  }

  it("exits 1 for a missing file and a directory", async () => {
    expect(
      (await run(["--ovmf", join(dir, "absent.fd"), "--vcpus", "1", "--vcpu-type", "EPYC"])).stderr,
    ).to.match(/ENOENT/);
    expect((await run(["--ovmf", dir, "--vcpus", "1", "--vcpu-type", "EPYC"])).stderr).to.match(
      /is not a regular file/,
    );
  });

  const usage: [string, string[], RegExp][] = [
    ["no --ovmf", ["--vcpus", "1"], /--ovmf is required/],
    ["no --vcpus", ["--ovmf", "x"], /--vcpus is required/],
    ["a non-integer vCPU count", ["--ovmf", "x", "--vcpus", "two"], /--vcpus two is not an integer/],
    [
      "two vCPU identities",
      ["--ovmf", "x", "--vcpus", "1", "--vcpu-type", "EPYC", "--vcpu-sig", "1"],
      /only one of/,
    ],
    ["family without model", ["--ovmf", "x", "--vcpus", "1", "--vcpu-family", "25"], /needs --vcpu-model/],
    ["an unknown output", ["--ovmf", "x", "--vcpus", "1", "-o", "xml"], /use yaml, json or hex/],
    ["a bad policy name", ["--ovmf", "x", "--vcpus", "1", "--name", "Bad_Name"], /not a valid object name/],
    ["non-numeric features", ["--ovmf", "x", "--vcpus", "1", "--guest-features", "snp"], /is not a number/],
  ];
  for (const [what, argv, message] of usage) {
    it(`is a usage error: ${what}`, async () => {
      let error: unknown;
      try {
        await run(argv);
      } catch (e) {
        error = e;
      }
      expect(error).to.be.instanceOf(UsageError);
      expect((error as Error).message).to.match(message);
    });
  }
});
