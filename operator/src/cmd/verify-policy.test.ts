/**
 * `trustgate verify --policy` checks a policy as the API server does (the CRD schema, its defaults and its CEL
 * rules): every sample the API server refuses (crds/samples/invalid, refused on a real API server by
 * operator/test/integration/crds.test.ts) is refused here too, naming the same problem, and every valid one is used.
 */
import { expect } from "chai";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { REPO_ROOT } from "../../test/support/samples.ts";
import { sharedBundleCases } from "../../test/support/shared-evidence.ts";
import { InputError, parseCommandArgs } from "../cli/command.ts";
import { verifyCommand } from "./verify.ts";

const SAMPLES = join(REPO_ROOT, "crds/samples");

function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith(".yaml"))
    .sort()
    .map((name) => join(dir, name));
}

async function verifyWithPolicy(bundlePath: string, policyPath: string, at: string): Promise<number> {
  const args = parseCommandArgs(verifyCommand, [bundlePath, "--at", at, "--policy", policyPath]);
  return verifyCommand.run(args, { stdout: () => undefined, stderr: () => undefined });
}

describe("trustgate verify --policy (checked like the API server checks it)", () => {
  const dir = mkdtempSync(join(tmpdir(), "trustgate-verify-policy-"));
  const bundleCase = sharedBundleCases().find((c) => c.name.startsWith("tdx/dcapqvl-uptodate-v4"));
  const bundlePath = join(dir, "bundle.json");
  before(() => {
    if (bundleCase === undefined) throw new Error("missing the dcapqvl TDX case");
    writeFileSync(bundlePath, JSON.stringify(bundleCase.bundle));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  for (const file of yamlFiles(join(SAMPLES, "invalid"))) {
    const sample = parse(readFileSync(file, "utf8")) as {
      metadata?: { annotations?: Record<string, string> };
    };
    const expected = sample.metadata?.annotations?.["trustgate.io/expected-error"] ?? "";
    it(`refuses invalid/${file.split("/").pop() ?? ""}`, async () => {
      let refusal: unknown;
      try {
        await verifyWithPolicy(bundlePath, file, bundleCase?.at ?? "");
      } catch (error) {
        refusal = error;
      }
      expect(refusal).to.be.instanceOf(InputError);
      const message = (refusal as Error).message;
      expect(message).to.include("is not a valid AttestationPolicy");
      // Policies name the rule the API server names; other kinds are refused as not being an AttestationPolicy.
      if (file.includes("/atp-")) expect(message).to.include(expected);
    });
  }

  it("--tee tdx with a TDX-only policy on a genuine SNP bundle: exit 1, TeeMismatch (and never affirming)", async () => {
    const snp = sharedBundleCases().find((c) => c.name.startsWith("snp/google-milan-v2") && c.authentic);
    if (snp === undefined) throw new Error("missing the Milan SNP case");
    const snpPath = join(dir, "snp.json");
    writeFileSync(snpPath, JSON.stringify(snp.bundle));
    const policyPath = join(dir, "tdx-only.yaml");
    writeFileSync(
      policyPath,
      stringify({
        apiVersion: "trustgate.io/v1alpha1",
        kind: "AttestationPolicy",
        metadata: { name: "tdx-only" },
        spec: { tdx: { mrTd: ["a".repeat(96)] } },
      }),
    );
    const run = async (extra: string[]) => {
      let out = "";
      const args = parseCommandArgs(verifyCommand, [
        snpPath,
        "--at",
        snp.at,
        "--policy",
        policyPath,
        ...extra,
      ]);
      const code = await verifyCommand.run(args, {
        stdout: (text) => (out += text),
        stderr: () => undefined,
      });
      return { code, report: JSON.parse(out) as { verdict: string; tee: { errors: { code: string }[] } } };
    };
    const mismatched = await run(["--tee", "tdx"]);
    expect(mismatched.code).to.equal(1);
    expect(mismatched.report.verdict).to.equal("contraindicated");
    expect(mismatched.report.tee.errors.map((e) => e.code)).to.include("TeeMismatch");
    const unpinned = await run(["--tee", "snp"]);
    expect(unpinned.code).to.equal(1);
    expect(unpinned.report.verdict, "the policy pins nothing for SNP").to.not.equal("affirming");
  });

  for (const file of yamlFiles(SAMPLES).filter((f) => f.includes("attestationpolicy-"))) {
    it(`uses ${file.split("/").pop() ?? ""}`, async () => {
      const code = await verifyWithPolicy(bundlePath, file, bundleCase?.at ?? "");
      expect(code).to.be.oneOf([0, 1]);
    });
  }
});
