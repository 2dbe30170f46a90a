import { expect } from "chai";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv2020 } from "ajv/dist/2020.js";
import type { ErrorObject } from "ajv";
import { parse as parseYaml, stringify } from "yaml";
import { sharedBundleCases, sharedGpuBundleCases } from "../operator/test/support/shared-evidence.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const MAIN = join(root, "operator/src/cmd/main.ts");

function schemaValidator(file: string): (value: unknown) => ErrorObject[] {
  const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
  // CEL rules of the CRD, kept in the generated schema as annotations.
  ajv.addKeyword("x-kubernetes-validations");
  const validate = ajv.compile(JSON.parse(readFileSync(join(root, "docs/schemas", file), "utf8")) as object);
  return (value) => (validate(value) ? [] : (validate.errors ?? []));
}

function trustgateVerify(args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, "verify", ...args], { maxBuffer: 8 << 20 }, (error, stdout) => {
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, stdout });
    });
  });
}

describe("docs/schemas", function () {
  this.timeout(60_000);
  const bundleErrors = schemaValidator("evidence-bundle.schema.json");
  const outputErrors = schemaValidator("verify-output.schema.json");
  const teeCases = sharedBundleCases();
  const gpuCases = sharedGpuBundleCases();

  describe("evidence-bundle.schema.json", () => {
    it("accepts every fixture bundle (TDX, SNP, with GPUs)", () => {
      const bundles = [...teeCases, ...gpuCases];
      expect(bundles.length).to.be.greaterThan(10);
      for (const c of bundles) expect(bundleErrors(c.bundle), c.name).to.deep.equal([]);
    });

    const [first] = teeCases;
    const broken: [string, (bundle: Record<string, unknown>) => unknown][] = [
      ["a bundle without a nonce", ({ nonce: _, ...rest }) => rest],
      ["an uppercase nonce", (b) => ({ ...b, nonce: "AB".repeat(32) })],
      ["an unknown TEE type", (b) => ({ ...b, tee: { type: "sgx", quote: "AAAA" } })],
      ["a P-384 key", (b) => ({ ...b, publicKey: { kty: "EC", crv: "P-384", x: "a", y: "b" } })],
      [
        "thirteen GPUs and NVSwitches (a PPCIe board is 8 + 4)",
        (b) => ({
          ...b,
          gpus: Array.from({ length: 13 }, () => ({ arch: "HOPPER", evidence: "", certChain: "" })),
        }),
      ],
    ];
    for (const [name, change] of broken) {
      it(`refuses ${name}`, () => {
        const bundle = first?.bundle as unknown as Record<string, unknown>;
        expect(bundleErrors(change(bundle))).not.to.deep.equal([]);
      });
    }
  });

  describe("verify-output.schema.json describes what trustgate verify prints", () => {
    const dir = mkdtempSync(join(tmpdir(), "trustgate-doc-schemas-"));
    after(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    function write(name: string, value: unknown): string {
      const path = join(dir, name);
      writeFileSync(path, name.endsWith(".yaml") ? stringify(value) : JSON.stringify(value));
      return path;
    }

    function policyArgs(name: string, spec: Record<string, unknown> | undefined): string[] {
      if (spec === undefined) return [];
      const policy = {
        apiVersion: "trustgate.io/v1alpha1",
        kind: "AttestationPolicy",
        metadata: { name },
        spec,
      };
      return ["--policy", write(`${name}.yaml`, policy)];
    }

    const pick = <T extends { name: string }>(cases: T[], prefix: string): T => {
      const found = cases.find((c) => c.name.startsWith(prefix));
      if (found === undefined) throw new Error(`no fixture case ${prefix}`);
      return found;
    };
    const runs: { name: string; args: () => string[]; verdict: string; code: number }[] = [
      ...[
        ["tdx/dcapqvl-uptodate-v4", "warning", 1],
        ["tdx/google-gcp-cos113-ccel", "warning", 1],
        ["tdx/google-v5-sample", "contraindicated", 1],
        ["snp/", "warning", 1],
      ].map(([prefix, verdict, code]) => {
        const c = pick(teeCases, prefix as string);
        return {
          name: c.name,
          args: () => [
            write(`${String(code)}-${c.name.split(" ")[0]?.replace("/", "-") ?? ""}.json`, c.bundle),
            "--at",
            c.at,
            ...policyArgs("tee", c.policy),
          ],
          verdict: verdict as string,
          code: code as number,
        };
      }),
      ...gpuCases.slice(0, 4).map((c, i) => ({
        name: c.name,
        args: () => [
          write(`gpus-${String(i)}.json`, c.bundle),
          "--at",
          c.at,
          ...policyArgs(`gpus-${String(i)}`, c.policy),
          ...(c.rimDirs ?? []).flatMap((d) => ["--rim-dir", d]),
        ],
        verdict: c.verdict,
        code: c.verdict === "affirming" ? 0 : 1,
      })),
      {
        name: "a bundle answering another nonce (--nonce)",
        args: () => {
          const c = pick(teeCases, "tdx/dcapqvl-uptodate-v4");
          return [write("nonce.json", c.bundle), "--at", c.at, "--nonce", "ab".repeat(32)];
        },
        verdict: "contraindicated",
        code: 1,
      },
      {
        name: "readable JSON that is no bundle",
        args: () => [write("garbage.json", { tee: { type: "tdx", quote: "AAAA" } })],
        verdict: "contraindicated",
        code: 1,
      },
    ];

    for (const run of runs) {
      it(`${run.name}: ${run.verdict}`, async () => {
        const { code, stdout } = await trustgateVerify(run.args());
        const report = JSON.parse(stdout) as { verdict: string };
        expect(outputErrors(report)).to.deep.equal([]);
        expect(report.verdict).to.equal(run.verdict);
        expect(code).to.equal(run.code);
      });
    }

    it("-o yaml prints the same object, valid too", async () => {
      const c = pick(teeCases, "snp/");
      const { code, stdout } = await trustgateVerify([
        write("yaml.json", c.bundle),
        "--at",
        c.at,
        "-o",
        "yaml",
      ]);
      const report = parseYaml(stdout) as { verdict: string };
      expect(outputErrors(report)).to.deep.equal([]);
      expect(code).to.equal(1);
    });

    it("refuses output that breaks the contract", () => {
      const report = { verdict: "affirming", tee: { type: "tdx" }, gpus: [], policy: { violations: [] } };
      expect(outputErrors(report).map((e) => e.instancePath)).to.include("/tee");
      expect(outputErrors({ ...report, verdict: "ok" }).map((e) => e.instancePath)).to.include("/verdict");
      const missing = outputErrors(report)
        .filter((e) => e.keyword === "required" && e.instancePath === "")
        .map((e) => (e.params as { missingProperty: string }).missingProperty);
      expect(missing).to.include.members(["apiVersion", "kind", "verifiedAt", "verifierVersion"]);
      const wrong = {
        ...report,
        apiVersion: "v1",
        kind: "Appraisal",
        verifiedAt: "yesterday",
        verifierVersion: "",
      };
      expect(outputErrors(wrong).map((e) => e.instancePath)).to.include.members([
        "/apiVersion",
        "/kind",
        "/verifiedAt",
        "/verifierVersion",
      ]);
    });
  });
});
