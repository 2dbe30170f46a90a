/**
 * `trustgate verify` and the controller reach their verdicts through the same entry point: on every shared bundle,
 * given the same policy, time, challenge and TEE, the CLI's output and the controller's `status.attestation` agree
 * on the verdict and on every error and violation code.
 */
import { expect } from "chai";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { aConfidentialVM } from "../../test/support/builders/confidential-vm.ts";
import { sharedBundleCases, sharedGpuBundleCases } from "../../test/support/shared-evidence.ts";
import type { EvidenceBundle } from "../attestation/types.ts";
import type { Appraisal } from "../attestation/appraise.ts";
import { compilePolicySpec } from "../attestation/policy/compiled-policy.ts";
import { defaultGpuVerifier, defaultTeeBackends } from "../attestation/registry.ts";
import { violationsOf } from "../attestation/result/attestation-result.ts";
import { generateSigningKey } from "../attestation/result/signing-keys.ts";
import { parseCommandArgs } from "../cli/command.ts";
import { appraiseCvm, DEFAULT_MAX_EVIDENCE_BYTES } from "../controllers/confidentialvm/appraise-cvm.ts";
import { verifyCommand } from "./verify.ts";

interface ParityCase {
  name: string;
  bundle: EvidenceBundle;
  at: string;
  policy?: Record<string, unknown>;
}

async function cliAppraisal(
  dir: string,
  i: number,
  c: ParityCase,
): Promise<{ code: number; report: Appraisal }> {
  const bundlePath = join(dir, `bundle-${i}.json`);
  writeFileSync(bundlePath, JSON.stringify(c.bundle));
  // The controller knows the CC mode of the host it placed the CVM on (CC on for these CVMs); verify is told it.
  const argv = [
    "verify",
    bundlePath,
    "--at",
    c.at,
    "--nonce",
    c.bundle.nonce,
    "--tee",
    c.bundle.tee.type,
    "--gpu-mode",
    "on",
  ];
  if (c.policy !== undefined) {
    const policyPath = join(dir, `policy-${i}.yaml`);
    const policy = {
      apiVersion: "trustgate.io/v1alpha1",
      kind: "AttestationPolicy",
      metadata: { name: "p" },
    };
    writeFileSync(policyPath, stringify({ ...policy, spec: c.policy }));
    argv.push("--policy", policyPath);
  }
  let stdout = "";
  const code = await verifyCommand.run(parseCommandArgs(verifyCommand, argv.slice(1)), {
    stdout: (text) => (stdout += text),
    stderr: () => undefined,
  });
  return { code, report: JSON.parse(stdout) as Appraisal };
}

/** The controller's view: a CVM of the bundle's TEE, assigned as many GPUs and NVSwitches as the bundle holds. */
async function controllerAttestation(c: ParityCase, assigned: { gpus: number; nvswitches: number }) {
  const now = new Date(c.at);
  const cvm = aConfidentialVM({ tee: c.bundle.tee.type, gpus: { count: assigned.gpus } });
  const addresses = (n: number, from: number) =>
    Array.from({ length: n }, (_, i) => ({ pciAddress: `0000:${(from + i).toString(16)}:00.0` }));
  cvm.status = {
    challenge: { nonce: c.bundle.nonce, issuedAt: c.at, expiresAt: c.at },
    gpus: addresses(assigned.gpus, 0x10),
    ...(assigned.nvswitches === 0 ? {} : { nvswitches: addresses(assigned.nvswitches, 0x05) }),
    evidence: c.bundle,
  };
  return appraiseCvm(cvm, compilePolicySpec(c.policy ?? {}), {
    maxEvidenceBytes: DEFAULT_MAX_EVIDENCE_BYTES,
    backends: { tees: defaultTeeBackends(), gpus: defaultGpuVerifier() },
    gpuIdentitiesElsewhere: new Map(),
    signingKey: await generateSigningKey(now),
    issuer: "trustgate",
    subject: "team-a/llm-inference",
    now,
  });
}

const codes = (list: readonly { code: string }[]): string[] => list.map((v) => v.code).sort();

describe("trustgate verify and the controller agree (one attestation entry point)", function () {
  this.timeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), "trustgate-parity-"));
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const cases: ParityCase[] = [...sharedBundleCases(), ...sharedGpuBundleCases()];
  cases.forEach((c, i) => {
    it(c.name, async () => {
      const cli = await cliAppraisal(dir, i, c);
      const switches = cli.report.gpus.filter((g) => g.deviceType === "switch").length;
      const gpus = (c.bundle.gpus?.length ?? 0) - switches;
      const controller = await controllerAttestation(c, { gpus, nvswitches: switches });
      expect(controller.verdict, "verdict").to.equal(cli.report.verdict);
      expect(codes(controller.violations ?? []), "error and violation codes").to.deep.equal(
        codes(violationsOf(cli.report)),
      );
      expect(cli.code).to.equal(cli.report.verdict === "affirming" ? 0 : 1);
      expect(controller.token !== undefined).to.equal(cli.report.verdict !== "contraindicated");
    });
  });

  it("covers TDX, SNP and GPU bundles", () => {
    const types = new Set(
      cases.map((c) => `${c.bundle.tee.type}${(c.bundle.gpus?.length ?? 0) > 0 ? "+gpu" : ""}`),
    );
    expect([...types].sort()).to.deep.equal(["snp", "snp+gpu", "tdx", "tdx+gpu"]);
  });
});
