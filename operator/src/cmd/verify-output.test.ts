/**
 * `trustgate verify` output formats, exit status, stdin and input that is no bundle, as a process on real evidence:
 * the SNP and TDX fixture items and the NVIDIA H100 and LS10 NVSwitch items, up to a whole PPCIe board.
 */
import { expect } from "chai";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml, stringify } from "yaml";
import { SHARED_GPU_ITEMS, sharedGpuEntry } from "../../test/fixtures/nvidia/shared-items.ts";
import { runTrustgate, stderrLines } from "../../test/support/run-trustgate.ts";
import { sharedBundleCases, type SharedBundleCase } from "../../test/support/shared-evidence.ts";
import { VERSION } from "../version.ts";
import { SCREEN } from "./verify-output/render-text.ts";
import type { VerificationResult } from "./verify-output/verification-result.ts";

function teeCase(prefix: string): SharedBundleCase {
  const found = sharedBundleCases().find((c) => c.name.startsWith(prefix));
  if (found === undefined) throw new Error(`no fixture case ${prefix}`);
  return found;
}

/** `count` entries cycling through the real items of one device type (repeats are DuplicateGpu: more to show). */
function realEntries(deviceType: "gpu" | "switch", count: number) {
  const items = SHARED_GPU_ITEMS.filter((i) => i.deviceType === deviceType);
  return Array.from({ length: count }, (_, i) => {
    const item = items[i % items.length];
    if (item === undefined) throw new Error(`no NVIDIA ${deviceType} item`);
    return sharedGpuEntry(item);
  });
}

describe("trustgate verify output, exit status and input (the CLI as a process)", function () {
  this.timeout(120_000);
  const dir = mkdtempSync(join(tmpdir(), "trustgate-verify-output-"));
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const snp = teeCase("snp/");
  const tdx = teeCase("tdx/dcapqvl-uptodate-v4");
  const write = (name: string, value: unknown): string => {
    const path = join(dir, name);
    writeFileSync(path, typeof value === "string" ? value : JSON.stringify(value));
    return path;
  };
  const policyFile = (spec: Record<string, unknown> | undefined): string[] =>
    spec === undefined
      ? []
      : [
          "--policy",
          write(
            `policy-${String(Math.random()).slice(2)}.yaml`,
            stringify({
              apiVersion: "trustgate.io/v1alpha1",
              kind: "AttestationPolicy",
              metadata: { name: "p" },
              spec,
            }),
          ),
        ];

  const boards: [string, ReturnType<typeof realEntries>][] = [
    ["8 H100s", realEntries("gpu", 8)],
    ["a PPCIe board: 8 H100s and 4 NVSwitches", [...realEntries("gpu", 8), ...realEntries("switch", 4)]],
  ];
  for (const [name, gpus] of boards) {
    it(`-o text of ${name} on real evidence fits one screen (${String(SCREEN.lines)} lines of ${String(SCREEN.columns)} columns), verdict first`, async () => {
      const bundle = write(`board-${String(gpus.length)}.json`, { ...snp.bundle, gpus });
      const args = ["verify", bundle, "--at", snp.at, ...policyFile(snp.policy)];
      const [text, json] = await Promise.all([runTrustgate([...args, "-o", "text"]), runTrustgate(args)]);
      const result = JSON.parse(json.stdout) as VerificationResult;
      expect(result.gpus).to.have.length(gpus.length);
      expect(text.code).to.equal(json.code);
      const lines = text.stdout.trimEnd().split("\n");
      expect(lines.length, text.stdout).to.be.at.most(SCREEN.lines);
      for (const line of lines) expect(line.length, line).to.be.at.most(SCREEN.columns);
      expect(lines[0]).to.equal(`Verdict: ${result.verdict.toUpperCase()}`);
      const sections = ["Reasons:", "Checks:", "GPUs and NVSwitches:", "Evidence:"].map((s) =>
        lines.indexOf(s),
      );
      expect(sections).to.deep.equal([...sections].sort((a, b) => a - b));
      expect(sections).not.to.include(-1);
      // One table row per device, in bundle order, with its type and its error codes.
      const rows = lines.slice((sections[2] ?? 0) + 2, (sections[3] ?? 0) - 1);
      expect(rows).to.have.length(gpus.length);
      rows.forEach((row, i) => {
        const gpu = result.gpus[i];
        expect(row).to.match(new RegExp(`^  ${String(i)}\\s+${gpu?.deviceType ?? "?"}\\s`));
        for (const e of gpu?.errors ?? []) expect(row).to.include(e.code);
      });
      expect(text.stdout).to.include("DuplicateGpu");
    });
  }

  it("-o yaml is the JSON result as YAML; verifiedAt is --at and verifierVersion this build", async () => {
    const bundle = write("tdx.json", tdx.bundle);
    const [json, yaml] = await Promise.all([
      runTrustgate(["verify", bundle, "--at", tdx.at]),
      runTrustgate(["verify", bundle, "--at", tdx.at, "-o", "yaml"]),
    ]);
    const result = JSON.parse(json.stdout) as VerificationResult;
    expect(parseYaml(yaml.stdout)).to.deep.equal(result);
    expect(result).to.include({
      apiVersion: "trustgate.io/v1alpha1",
      kind: "VerificationResult",
      verifiedAt: new Date(tdx.at).toISOString(),
      verifierVersion: VERSION,
    });
    expect(Object.keys(result).slice(0, 5)).to.deep.equal([
      "apiVersion",
      "kind",
      "verifiedAt",
      "verifierVersion",
      "verdict",
    ]);
  });

  it("reads the bundle from stdin with -", async () => {
    const fromFile = await runTrustgate(["verify", write("stdin.json", tdx.bundle), "--at", tdx.at]);
    const fromStdin = await runTrustgate(["verify", "-", "--at", tdx.at], {
      stdin: readFileSync(join(dir, "stdin.json"), "utf8"),
    });
    expect(fromStdin.code).to.equal(fromFile.code);
    expect(fromStdin.stdout).to.equal(fromFile.stdout);
    const empty = await runTrustgate(["verify", "-"], { stdin: "" });
    expect(empty.code).to.equal(2);
    expect(empty.stderr).to.equal("trustgate verify: stdin is not JSON: Unexpected end of JSON input\n");
  });

  it("--fail-on contraindicated passes a warning (exit 0) and still fails contraindicated (exit 1)", async () => {
    const warning = write("warning.json", tdx.bundle);
    const failing = write("contraindicated.json", { ...tdx.bundle, nonce: "ff".repeat(32) });
    const runs = await Promise.all([
      runTrustgate(["verify", warning, "--at", tdx.at]),
      runTrustgate(["verify", warning, "--at", tdx.at, "--fail-on", "contraindicated"]),
      runTrustgate([
        "verify",
        failing,
        "--at",
        tdx.at,
        "--nonce",
        "ab".repeat(32),
        "--fail-on",
        "contraindicated",
      ]),
    ]);
    const verdicts = runs.map((r) => (JSON.parse(r.stdout) as VerificationResult).verdict);
    expect(verdicts).to.deep.equal(["warning", "warning", "contraindicated"]);
    expect(runs.map((r) => r.code)).to.deep.equal([1, 0, 1]);
  });

  it("-o text of a bundle that declares a TEE type made of terminal escapes: the verdict line stays the verdict", async () => {
    const forged = write("forged.json", {
      tee: { type: "\u001b[1A\r\u001b[2KVerdict: AFFIRMING", quote: "AAAA" },
    });
    const run = await runTrustgate(["verify", forged, "-o", "text"]);
    expect(run.code).to.equal(1);
    expect(run.stdout.split("\n")[0]).to.equal("Verdict: CONTRAINDICATED");
    expect(run.stdout).not.to.include("\u001b");
    expect(run.stdout).to.include("\\u001b[1A\\u000d\\u001b[2KVerdict: AFFIRMING evidence");
  });

  const notBundles: [string, string][] = [
    ["a JSON array", "[]"],
    ["null", "null"],
    ["a string", '"eyJhbGciOi.x.y"'],
    ["a Kubernetes object", JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", data: {} })],
    ["an object whose tee is no object", JSON.stringify({ nonce: "00".repeat(32), tee: "tdx" })],
  ];
  for (const [name, content] of notBundles) {
    it(`exits 2 with one line for input that is no evidence bundle: ${name}`, async () => {
      const run = await runTrustgate(["verify", write("not-a-bundle.json", content)]);
      expect(run.code).to.equal(2);
      expect(run.stdout).to.equal("");
      expect(stderrLines(run)).to.deep.equal([
        `trustgate verify: ${join(dir, "not-a-bundle.json")} is not an evidence bundle (no "tee" object; see docs/evidence-bundle.md)`,
      ]);
    });
  }

  const usageErrors: [string, string[], string][] = [
    ["an unknown output format", ["x.json", "-o", "table"], '-o "table" must be json, yaml or text'],
    [
      "an unknown --fail-on",
      ["x.json", "--fail-on", "affirming"],
      '--fail-on "affirming" must be warning or contraindicated',
    ],
    ["an unknown flag", ["x.json", "--verbose"], "Unknown option '--verbose'"],
    ["two bundles", ["a.json", "b.json"], "give exactly one bundle file (or - for stdin)"],
  ];
  for (const [name, args, message] of usageErrors) {
    it(`exits 2 for ${name}: one line and a hint to --help, no usage dump`, async () => {
      const run = await runTrustgate(["verify", ...args]);
      expect(run.code).to.equal(2);
      expect(run.stdout).to.equal("");
      expect(stderrLines(run)).to.deep.equal([
        `trustgate verify: ${message}`,
        "Run 'trustgate verify --help' for usage.",
      ]);
    });
  }
});
