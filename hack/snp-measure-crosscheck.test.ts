import { expect } from "chai";
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  computeSnpLaunchMeasurement,
  measureFirmware,
  parseOvmf,
  type VmmType,
} from "../operator/src/attestation/snp/launch-measurement/index.ts";
import { DEFAULT_SECTIONS, syntheticOvmf } from "../operator/test/support/builders/synthetic-ovmf.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SCRIPT = join(ROOT, "hack/snp-measure-crosscheck.sh");

interface Case {
  image: string;
  vmm: VmmType;
  vcpuType: string;
  features: string;
  vcpus: number;
  ours: string;
  theirs: string;
  verdict: string;
}

function runScript(
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile("/bin/bash", [SCRIPT], { maxBuffer: 4 << 20, env }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, stdout, stderr });
    });
  });
}

function parseCases(stdout: string): Case[] {
  const line =
    /^case (\S+) (QEMU|ec2|gce) (\S+) (0x[0-9a-f]+) vcpus=(\d+) trustgate=(\S+) sev-snp-measure=(\S+) (\S+)$/gm;
  return [...stdout.matchAll(line)].map((m) => ({
    image: m[1] ?? "",
    vmm: (m[2] ?? "QEMU") as VmmType,
    vcpuType: m[3] ?? "",
    features: m[4] ?? "",
    vcpus: Number(m[5]),
    ours: m[6] ?? "",
    theirs: m[7] ?? "",
    verdict: m[8] ?? "",
  }));
}

describe("hack/snp-measure-crosscheck.sh without its prerequisites", () => {
  it("is valid bash", () => {
    expect(() => execFileSync("bash", ["-n", SCRIPT])).not.to.throw();
  });

  it("skips with the reason (exit 3) on a cold cache without apt-get, rather than passing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "snp-crosscheck-"));
    try {
      symlinkSync(
        execFileSync("bash", ["-c", "command -v dirname"], { encoding: "utf8" }).trim(),
        join(dir, "dirname"),
      );
      const { code, stdout } = await runScript({ PATH: dir, HOME: dir, TRUSTGATE_CACHE: join(dir, "cache") });
      expect(code).to.equal(3);
      expect(stdout).to.match(
        /^SKIP: needs apt-get and dpkg-deb \(Debian\) to fetch ovmf 2022\.11-6\+deb12u2$/m,
      );
      expect(stdout).not.to.match(/^case /m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// Fetches Debian's ovmf package and PyPI's sev-snp-measure on a cold cache (~40 s), a few seconds when warm.
describe("SNP launch measurement vs sev-snp-measure on Debian's OVMF (hack/snp-measure-crosscheck.sh)", function () {
  this.timeout(600_000);
  let cases: Case[] = [];
  let images: string[] = [];
  let sevSnpMeasure = "";
  let output = "";

  before(async function () {
    const { code, stdout, stderr } = await runScript();
    output = stdout;
    if (code === 3) {
      console.log(`      ${stdout.trim()}`);
      this.skip();
    }
    expect(code, `${stdout}\n${stderr}`).to.equal(0);
    cases = parseCases(stdout);
    images = [...stdout.matchAll(/^image (\S+)$/gm)].map((m) => m[1] ?? "");
    sevSnpMeasure = /^tool (\S+)$/m.exec(stdout)?.[1] ?? "";
  });

  it("both tools agree on every case, for at least four vCPU counts per QEMU vCPU type", () => {
    expect(cases).to.have.length.greaterThanOrEqual(20);
    for (const c of cases) {
      expect(c.ours, JSON.stringify(c)).to.match(/^[0-9a-f]{96}$/);
      expect(c.ours, JSON.stringify(c)).to.equal(c.theirs);
      expect(c.verdict).to.equal("match");
    }
    const counts = new Set(
      cases
        .filter((c) => c.image === "OVMF.fd" && c.vcpuType === "EPYC-v4" && c.vmm === "QEMU")
        .map((c) => c.vcpus),
    );
    expect([...counts]).to.include.members([1, 2, 4, 8]);
    expect(new Set(cases.map((c) => c.ours)).size, "every shape has its own measurement").to.equal(
      cases.length,
    );
    expect(new Set(cases.map((c) => c.vmm))).to.deep.equal(new Set(["QEMU", "ec2", "gce"]));
  });

  it("refuses Debian's OVMF_CODE_4M.fd, which has no SEV metadata, instead of measuring it", () => {
    expect(output).to.match(/^refused OVMF_CODE_4M\.fd NoSevMetadata$/m);
  });

  it("the library in-process gives sev-snp-measure's digests for Debian's images, each well under a second", () => {
    expect(images.map((i) => basename(i))).to.deep.equal(["OVMF.fd", "OVMF_CODE.fd"]);
    for (const path of images) {
      const start = performance.now();
      const ovmf = parseOvmf(readFileSync(path));
      const firmware = measureFirmware(ovmf);
      for (const c of cases.filter((k) => k.image === basename(path))) {
        const inputs = {
          vcpus: c.vcpus,
          vcpu: { type: c.vcpuType },
          vmm: c.vmm,
          guestFeatures: BigInt(c.features),
        };
        expect(Buffer.from(computeSnpLaunchMeasurement(ovmf, inputs, firmware)).toString("hex")).to.equal(
          c.theirs,
        );
      }
      expect(performance.now() - start, `${path} measured in ms`).to.be.lessThan(1000);
    }
  });

  it("agrees on a synthetic image with every section type Debian's build lacks (kernel hashes, SVSM CAA)", function () {
    const dir = mkdtempSync(join(tmpdir(), "snp-synthetic-"));
    try {
      const sections = [...DEFAULT_SECTIONS, { gpa: 0x805000, size: 0x1000, type: 4 }];
      const file = join(dir, "synthetic.fd");
      writeFileSync(file, syntheticOvmf({ pages: 8, sections, resetEip: 0xffff9004 }));
      const ovmf = parseOvmf(readFileSync(file));
      expect(ovmf.sections.map((s) => s.type)).to.include.members(["SnpKernelHashes", "SvsmCaa"]);
      for (const [vcpus, vmm] of [
        [1, "QEMU"],
        [3, "QEMU"],
        [3, "ec2"],
        [3, "gce"],
      ] as const) {
        const args = ["--mode", "snp", "--ovmf", file, "--vcpus", String(vcpus), "--vcpu-type", "EPYC-Milan"];
        const theirs = execFileSync(sevSnpMeasure, [...args, "--vmm-type", vmm], { encoding: "utf8" }).trim();
        const inputs = { vcpus, vcpu: { type: "EPYC-Milan" }, vmm, guestFeatures: 1n };
        expect(
          Buffer.from(computeSnpLaunchMeasurement(ovmf, inputs)).toString("hex"),
          `${vcpus} ${vmm}`,
        ).to.equal(theirs);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
