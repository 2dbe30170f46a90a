// docs/troubleshooting.md must explain every condition reason the controller can set. The reasons are collected from
// the source, so a new one fails this test until it is documented: the REASON_* constants, the evidence error and
// warning codes (an Attested=False reason is the first violation's code), and the string literals the
// ConfidentialVM handshake and lifecycle put into `reason` fields directly.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "chai";
import { parse } from "yaml";
import { ERROR_CODES, WARNING_CODES } from "../../attestation/types.ts";

const REPO = join(import.meta.dirname, "../../../..");
const DOC = join(REPO, "docs/troubleshooting.md");

function sources(dir: string): string[] {
  return readdirSync(join(REPO, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts") && !e.name.endsWith(".test.ts"))
    .map((e) => join(e.parentPath, e.name));
}

/** The ConfidentialVM phases (the CRD's enum): they appear beside reasons in the lifecycle, and are not reasons. */
function cvmPhases(): string[] {
  const crd = parse(readFileSync(join(REPO, "crds/confidentialvms.trustgate.io.yaml"), "utf8")) as {
    spec: {
      versions: {
        schema: {
          openAPIV3Schema: { properties: { status: { properties: { phase: { enum: string[] } } } } };
        };
      }[];
    };
  };
  return crd.spec.versions[0]?.schema.openAPIV3Schema.properties.status.properties.phase.enum ?? [];
}

/** Condition statuses and Event types share lines with reasons. */
const NOT_REASONS = new Set(["True", "False", "Unknown", "Normal", "Warning", ...cvmPhases()]);

function conditionReasons(): Map<string, string> {
  const found = new Map<string, string>();
  for (const file of sources("operator/src")) {
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/export const REASON_\w+ = "([A-Za-z]+)"/g)) found.set(m[1] ?? "", file);
  }
  for (const code of [...ERROR_CODES, ...WARNING_CODES]) found.set(code, "operator/src/attestation/types.ts");
  for (const file of [...sources("operator/src/controllers"), ...sources("operator/src/kubevirt")]) {
    for (const line of readFileSync(file, "utf8").split("\n")) {
      if (!/\breason\b/.test(line)) continue;
      for (const m of line.matchAll(/"([A-Z][A-Za-z]+)"/g))
        if (!NOT_REASONS.has(m[1] ?? "")) found.set(m[1] ?? "", file);
    }
  }
  return found;
}

/** The reasons the document's tables explain: the first cell of each row, one or more `Reason`s. */
function documentedReasons(): Set<string> {
  const documented = new Set<string>();
  for (const line of readFileSync(DOC, "utf8").split("\n")) {
    const first = /^\| ([^|]+) \|/.exec(line)?.[1] ?? "";
    for (const m of first.matchAll(/`([A-Za-z]+)`/g)) documented.add(m[1] ?? "");
  }
  return documented;
}

describe("docs/troubleshooting.md", () => {
  const reasons = conditionReasons();

  it("finds the reasons the code sets (the collection itself works)", () => {
    expect(reasons.size).to.be.above(60);
    for (const known of [
      "ReportStale",
      "NoEligibleHost",
      "Affirming",
      "NonceMismatch",
      "KubeVirtNotInstalled",
      "Pinned",
    ])
      expect([...reasons.keys()]).to.include(known);
    for (const notAReason of ["True", "Warning", "Attesting", "Degraded"])
      expect([...reasons.keys()]).to.not.include(notAReason);
  });

  it("explains every condition reason the code can set", () => {
    const documented = documentedReasons();
    const missing = [...reasons].filter(([reason]) => !documented.has(reason)).map(([r, f]) => `${r} (${f})`);
    expect(missing, "add a row to docs/troubleshooting.md").to.deep.equal([]);
  });

  it("explains no reason the code no longer sets", () => {
    const stale = [...documentedReasons()].filter((reason) => !reasons.has(reason));
    expect(stale, "remove the row from docs/troubleshooting.md").to.deep.equal([]);
  });
});
