import { expect } from "chai";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { REPO_ROOT } from "../../test/support/samples.ts";
import { sharedGpuBundleCases } from "../../test/support/shared-evidence.ts";
import { makeTestNras, sampleGpuClaims, signDetachedEat } from "../../test/support/fakes/nras-tokens.ts";
import { nvidiaItemDir, SHARED_GPU_ITEMS } from "../../test/fixtures/nvidia/shared-items.ts";
import type { LocalGpuResult } from "../attestation/gpu/verifier.ts";
import type { Appraisal as VerifyReport } from "../attestation/appraise.ts";

const MAIN = join(REPO_ROOT, "operator/src/cmd/main.ts");

interface Run {
  code: number;
  report: VerifyReport & { gpus: LocalGpuResult[] };
}

function trustgate(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [MAIN, ...args], { maxBuffer: 8 << 20 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
      try {
        resolve({ code, report: JSON.parse(stdout) as Run["report"] });
      } catch {
        reject(new Error(`trustgate ${args.join(" ")} exited ${code} without JSON: ${stderr}`));
      }
    });
  });
}

describe("trustgate verify with GPUs (the CLI as a process, shared TEE sections + shared NVIDIA items)", function () {
  this.timeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), "trustgate-verify-gpus-"));
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function write(name: string, bundle: unknown, policy?: Record<string, unknown>): string[] {
    const bundlePath = join(dir, `${name}.json`);
    writeFileSync(bundlePath, JSON.stringify(bundle));
    if (policy === undefined) return [bundlePath];
    const policyPath = join(dir, `${name}-policy.yaml`);
    const document = {
      apiVersion: "trustgate.io/v1alpha1",
      kind: "AttestationPolicy",
      metadata: { name: "p" },
    };
    writeFileSync(policyPath, stringify({ ...document, spec: policy }));
    return [bundlePath, "--policy", policyPath];
  }

  sharedGpuBundleCases().forEach((c, i) => {
    it(`${c.name}: ${c.verdict}`, async () => {
      const { code, report } = await trustgate([
        "verify",
        ...write(`case-${i}`, c.bundle, c.policy),
        "--at",
        c.at,
        ...(c.rimDirs ?? []).flatMap((d) => ["--rim-dir", d]),
      ]);
      expect(report.tee.authentic, JSON.stringify(report.tee.errors)).to.equal(true);
      expect(report.gpus).to.have.length(c.gpus.length);
      c.gpus.forEach((expected, g) => {
        const gpu = report.gpus[g];
        expect(gpu?.index).to.equal(g);
        expect(gpu?.authentic, JSON.stringify(gpu?.errors)).to.equal(expected.authentic);
        expect(gpu?.errors.map((e) => e.code)).to.deep.equal(expected.errorCodes);
        expect([gpu?.nonce, gpu?.driverVersion, gpu?.vbiosVersion]).to.deep.equal([
          expected.nonce,
          expected.driverVersion,
          expected.vbiosVersion,
        ]);
        expect([gpu?.measurements, gpu?.revocation]).to.deep.equal([expected.measurements, "unchecked"]);
      });
      expect(report.verdict).to.equal(c.verdict);
      expect(code).to.equal(1);
    });
  });

  it("--rim-dir must name a directory (usage error, exit 2)", async () => {
    const [first] = sharedGpuBundleCases();
    if (first === undefined) throw new Error("no GPU bundle case");
    const args = [MAIN, "verify", ...write("rimdir", first.bundle), "--rim-dir", "/nonexistent"];
    const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(process.execPath, args, (error, _stdout, err) => {
        resolve({ code: typeof error?.code === "number" ? error.code : 0, stderr: err });
      });
    });
    expect(code).to.equal(2);
    expect(stderr).to.include("--rim-dir /nonexistent is not a directory");
  });

  it("with --nonce every GPU must answer the challenge: real evidence does not (NonceMismatch, still authentic)", async () => {
    const [first] = sharedGpuBundleCases();
    if (first === undefined) throw new Error("no GPU bundle case");
    const { code, report } = await trustgate([
      "verify",
      ...write("nonce", first.bundle),
      "--at",
      first.at,
      "--nonce",
      "ab".repeat(32),
    ]);
    expect(report.gpus.map((g) => g.authentic)).to.deep.equal(first.gpus.map(() => true));
    expect(report.gpus.map((g) => g.errors.map((e) => e.code))).to.deep.equal(
      first.gpus.map((g) => ["NonceMismatch", ...g.errorCodes]),
    );
    expect(report.verdict).to.equal("contraindicated");
    expect(code).to.equal(1);
  });

  describe("OCSP and NRAS remote mode flags", () => {
    const tdxPlusSwitch = () => {
      const found = sharedGpuBundleCases().find((c) => c.name.includes("H100 and NVSwitch"));
      if (found === undefined) throw new Error("no H100 + NVSwitch case");
      return found;
    };
    const switchClaims = (): Record<string, unknown> => {
      const decoded = JSON.parse(
        readFileSync(`${nvidiaItemDir("sdk-nvswitch-ls10")}/nras_claims_decoded.json`, "utf8"),
      ) as { "SWITCH-0": Record<string, unknown> };
      const claims = { ...decoded["SWITCH-0"] };
      for (const k of ["iat", "nbf", "exp", "jti", "iss", "eat_nonce"]) Reflect.deleteProperty(claims, k);
      return claims;
    };

    it("--ocsp-dir without a response for NVIDIA's certificates: revocation unchecked (CollateralUnavailable)", async () => {
      const c = tdxPlusSwitch();
      const empty = mkdtempSync(join(dir, "ocsp-"));
      const { report } = await trustgate([
        "verify",
        ...write("ocsp", c.bundle, c.policy),
        "--at",
        c.at,
        "--ocsp-dir",
        empty,
      ]);
      expect(report.gpus.map((g) => g.revocation)).to.deep.equal(["unchecked", "unchecked"]);
      for (const gpu of report.gpus) {
        expect(gpu.errors.map((e) => e.code)).to.include("CollateralUnavailable");
        expect(gpu.errors.map((e) => e.message).join()).to.match(/no OCSP response for .* from directory/);
      }
      expect(report.verdict).to.equal(c.verdict); // the policy waives the revocation check
    });

    it("--nras-token with --nras-jwks: a token signed for this evidence replaces RIM and OCSP appraisal (GPU and NVSwitch)", async () => {
      const c = tdxPlusSwitch();
      const nras = await makeTestNras();
      const n550 = SHARED_GPU_ITEMS.find((i) => i.item === "nvtrust-hopper-550");
      const eat = await signDetachedEat(nras, {
        nonce: n550?.facts.nonce ?? "",
        now: new Date(c.at),
        submods: { "GPU-0": { ...sampleGpuClaims(), ueid: n550?.facts.ueid }, "SWITCH-0": switchClaims() },
      });
      writeFileSync(join(dir, "eat.json"), JSON.stringify(eat));
      writeFileSync(join(dir, "jwks.json"), JSON.stringify(nras.jwks));
      const policy = { ...c.policy, gpu: { requireRimMatch: true, requireRevocationCheck: true } };
      const args = ["verify", ...write("nras", c.bundle, policy), "--at", c.at];
      const { report } = await trustgate([
        ...args,
        "--nras-token",
        join(dir, "eat.json"),
        "--nras-jwks",
        join(dir, "jwks.json"),
      ]);
      expect(report.gpus.map((g) => [g.authentic, g.measurements, g.revocation, g.errors])).to.deep.equal([
        [true, "match", "good", []],
        [true, "match", "good", []],
      ]);
      const late = await trustgate([
        "verify",
        ...write("nras-late", c.bundle, policy),
        "--at",
        new Date(new Date(c.at).getTime() + 2 * 3600_000).toISOString(),
        "--nras-token",
        join(dir, "eat.json"),
        "--nras-jwks",
        join(dir, "jwks.json"),
      ]);
      expect(late.report.gpus.flatMap((g) => g.errors.map((e) => e.code))).to.include("CollateralExpired");
    });

    it("--nras-token with NVIDIA's real token and a JWKS without its key: SignatureInvalid, contraindicated", async () => {
      const c = tdxPlusSwitch();
      const nras = await makeTestNras();
      writeFileSync(join(dir, "jwks-other.json"), JSON.stringify(nras.jwks));
      const { code, report } = await trustgate([
        "verify",
        ...write("nras-real", { ...c.bundle, gpus: c.bundle.gpus?.slice(0, 1) }, c.policy),
        "--at",
        "2025-06-11T00:31:00Z",
        "--nras-token",
        `${nvidiaItemDir("nvtrust-hopper-550")}/nras_detached_eat.json`,
        "--nras-jwks",
        join(dir, "jwks-other.json"),
      ]);
      expect(report.gpus[0]?.errors.map((e) => e.code)).to.deep.equal(["SignatureInvalid"]);
      expect(report.gpus[0]?.errors[0]?.message).to.match(/no key nv-eat-kid-prod-/);
      expect(report.verdict).to.equal("contraindicated");
      expect(code).to.equal(1);
    });
  });
});
