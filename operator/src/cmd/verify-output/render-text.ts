/**
 * `trustgate verify -o text`: the verdict and its reasons first, one line per check, a table of the GPUs and
 * NVSwitches. A whole PPCIe board (8 GPUs + 4 NVSwitches) fits one screen: SCREEN lines of SCREEN columns.
 */
import type { EventRow } from "../../attestation/tdx/event-log/claims.ts";
import type { GpuResult } from "../../attestation/types.ts";
import { printable } from "../../cli/printable.ts";
import { renderEventTable } from "../event-table.ts";
import type { VerificationResult } from "./verification-result.ts";

export const SCREEN = { lines: 50, columns: 120 } as const;

/** Reasons beyond this many are counted, not listed (the JSON output has them all). */
const MAX_REASON_LINES = 14;

/** A titled block of lines appended after the fixed sections. */
export interface TextSection {
  title: string;
  lines: string[];
}

/**
 * The sections the fixed layout does not have, appended in order after the GPU table: the place for the TDX event
 * log table (`renderEventTable(events)` of the CCEL work) and any later per-TEE detail. Each should stay within a
 * few lines so that the whole output keeps to one screen.
 */
export function optionalTextSections(result: VerificationResult): TextSection[] {
  const events = result.tee.events ?? [];
  if (events.length === 0) return [];
  return [bootEventsSection(events)];
}

/** What a boot policy pins (events.kernel, initrd, cmdline, Secure Boot) and what it cannot classify. */
const SHOWN_CLAIMS = /^(kernel|initrd|cmdline|secureBootVariable:.*|unknown)$/;
const MAX_EVENT_LINES = 8;

/**
 * The TDX event log's events a boot policy speaks of, as `renderEventTable` lays them out, at most MAX_EVENT_LINES;
 * the rest (firmware, separators, GRUB's own files and commands) is counted. `-o json` has every event (tee.events).
 */
function bootEventsSection(events: readonly EventRow[]): TextSection {
  const shown = events.filter((e) => SHOWN_CLAIMS.test(e.claim));
  const table = renderEventTable(shown.slice(0, MAX_EVENT_LINES)).trimEnd().split("\n");
  const rest = events.length - Math.min(shown.length, MAX_EVENT_LINES);
  return {
    title: `Boot events (TDX event log, ${events.length} events replayed)`,
    lines: [
      ...(shown.length === 0 ? [] : table),
      ...(rest > 0 ? [`${rest} more events in -o json (tee.events)`] : []),
    ],
  };
}

type CheckStatus = "pass" | "warn" | "FAIL" | "skip";

export interface CheckLine {
  check: string;
  status: CheckStatus;
  detail: string;
}

/** Every line: the evidence's strings made printable (see printable.ts), then cut to the screen's width. */
function fit(text: string, columns: number = SCREEN.columns): string {
  const line = printable(text);
  return line.length <= columns ? line : `${line.slice(0, columns - 1)}…`;
}

function counts(values: readonly string[]): string {
  const tally = new Map<string, number>();
  for (const v of values) tally.set(v, (tally.get(v) ?? 0) + 1);
  return [...tally].map(([value, n]) => `${String(n)} ${value}`).join(", ");
}

/** `#0-3,#5` for 0, 1, 2, 3, 5 (ascending). */
export function indexList(indices: readonly number[]): string {
  const runs: [number, number][] = [];
  for (const i of indices) {
    const last = runs[runs.length - 1];
    if (last !== undefined && i === last[1] + 1) last[1] = i;
    else runs.push([i, i]);
  }
  return runs.map(([a, b]) => (a === b ? `#${String(a)}` : `#${String(a)}-${String(b)}`)).join(",");
}

/** Why the verdict is what it is: TEE errors, policy violations, GPU errors by code, then warnings. */
export function reasonLines(result: VerificationResult): string[] {
  const reasons: string[] = [
    ...result.tee.errors.map((e) => `TEE ${e.code}: ${e.message}`),
    ...result.policy.violations.map((v) => `policy ${v.field}: ${v.message}`),
  ];
  const byCode = new Map<string, { indices: number[]; message: string }>();
  for (const gpu of result.gpus) {
    for (const error of gpu.errors) {
      const entry = byCode.get(error.code) ?? { indices: [], message: error.message };
      if (!entry.indices.includes(gpu.index)) entry.indices.push(gpu.index);
      byCode.set(error.code, entry);
    }
  }
  for (const [code, { indices, message }] of byCode) {
    const first = indices.length > 1 ? ` (#${String(indices[0])}: ${message})` : `: ${message}`;
    reasons.push(`GPU ${code} on ${indexList(indices)}${first}`);
  }
  for (const w of result.warnings)
    reasons.push(`warning ${w.code}${w.tolerated ? " (tolerated by the policy)" : ""}: ${w.message}`);
  if (reasons.length <= MAX_REASON_LINES) return reasons;
  const hidden = reasons.length - (MAX_REASON_LINES - 1);
  return [
    ...reasons.slice(0, MAX_REASON_LINES - 1),
    `… and ${String(hidden)} more (trustgate verify -o json lists them all)`,
  ];
}

function launchMeasurement(result: VerificationResult): string | undefined {
  const claim = result.tee.claims[result.tee.type === "tdx" ? "mrTd" : "measurement"];
  return typeof claim === "string" ? claim : undefined;
}

function gpuChecks(gpus: readonly GpuResult[]): CheckLine[] {
  if (gpus.length === 0) return [{ check: "GPUs", status: "skip", detail: "none in the bundle" }];
  const authentic = gpus.filter((g) => g.authentic).length;
  const measurements = gpus.map((g) => g.measurements);
  const revocation = gpus.map((g) => g.revocation);
  return [
    {
      check: "GPU evidence",
      status: authentic === gpus.length ? "pass" : "FAIL",
      detail: `${String(authentic)} of ${String(gpus.length)} authentic (SPDM signature, device chain to NVIDIA's root, nonce)`,
    },
    {
      check: "GPU measurements (RIM)",
      status: measurements.includes("mismatch")
        ? "FAIL"
        : measurements.includes("unchecked")
          ? "warn"
          : "pass",
      detail: counts(measurements),
    },
    {
      check: "GPU revocation (OCSP)",
      status: revocation.includes("revoked") ? "FAIL" : revocation.includes("unchecked") ? "warn" : "pass",
      detail: counts(revocation),
    },
  ];
}

/** One line per check, in the order the verifier makes them. */
export function checkLines(result: VerificationResult): CheckLine[] {
  const { tee } = result;
  const unpinned = result.warnings.find((w) => w.code === "MeasurementsUnpinned");
  const measurement = launchMeasurement(result);
  const bindingEnforced = tee.errors.some((e) => e.code === "BindingMismatch" || e.code === "NonceMismatch");
  const tcbOk = tee.tcbStatus === "UpToDate";
  const violations = result.policy.violations;
  return [
    {
      check: `TEE evidence (${tee.type})`,
      status: tee.authentic ? "pass" : "FAIL",
      detail: tee.authentic
        ? "signatures and certificate chains verify to the pinned roots"
        : `not authentic: ${[...new Set(tee.errors.map((e) => e.code))].join(", ") || "no detail"}`,
    },
    {
      check: "TCB status",
      status: !tee.authentic ? "skip" : tcbOk ? "pass" : "warn",
      detail: `${tee.tcbStatus}${tee.advisoryIds.length > 0 ? `; advisories ${tee.advisoryIds.join(", ")}` : ""}`,
    },
    {
      check: "launch measurement",
      status: measurement === undefined ? "skip" : unpinned === undefined ? "pass" : "warn",
      detail:
        measurement === undefined
          ? "no claims"
          : unpinned === undefined
            ? "as the policy pins it (value below)"
            : "not pinned by the policy (value below)",
    },
    {
      check: "nonce/key binding",
      status:
        tee.binding === "match"
          ? "pass"
          : tee.binding === "unknown"
            ? "skip"
            : bindingEnforced
              ? "FAIL"
              : "warn",
      detail:
        tee.binding === "mismatch" && !bindingEnforced
          ? "mismatch (not enforced without --nonce)"
          : bindingEnforced
            ? "the evidence answers another challenge than --nonce"
            : tee.binding,
    },
    {
      check: "policy",
      status: violations.length === 0 ? "pass" : "FAIL",
      detail:
        violations.length === 0
          ? "no violations"
          : `${String(violations.length)} violated: ${violations.map((v) => v.field).join(", ")}`,
    },
    ...gpuChecks(result.gpus),
  ];
}

function table(rows: readonly string[][]): string[] {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((r) => (r[column] ?? "").length))) ?? [];
  return rows.map((r) =>
    r
      .map((cell, column) => (column === r.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join("  ")
      .trimEnd(),
  );
}

function errorCodes(gpu: GpuResult): string {
  const tally = new Map<string, number>();
  for (const e of gpu.errors) tally.set(e.code, (tally.get(e.code) ?? 0) + 1);
  return [...tally].map(([code, n]) => (n > 1 ? `${code}×${String(n)}` : code)).join(" ") || "-";
}

/** One row per GPU or NVSwitch of the bundle. */
export function gpuTable(gpus: readonly GpuResult[]): string[] {
  return table([
    ["#", "device", "authentic", "driver", "vbios", "RIM", "OCSP", "identity", "errors"],
    ...gpus.map((g) => [
      String(g.index),
      g.deviceType ?? "?",
      g.authentic ? "yes" : "NO",
      g.driverVersion || "-",
      g.vbiosVersion || "-",
      g.measurements,
      g.revocation,
      g.deviceIdentity === undefined ? "-" : g.deviceIdentity.slice(0, 12),
      errorCodes(g),
    ]),
  ]);
}

function deviceSummary(gpus: readonly GpuResult[]): string {
  const switches = gpus.filter((g) => g.deviceType === "switch").length;
  const others = gpus.length - switches;
  const parts = [`${String(others)} GPU${others === 1 ? "" : "s"}`];
  if (switches > 0) parts.push(`${String(switches)} NVSwitch${switches === 1 ? "" : "es"}`);
  return parts.join(" + ");
}

export function renderText(
  result: VerificationResult,
  extraSections: readonly TextSection[] = optionalTextSections(result),
): string {
  const reasons = reasonLines(result);
  const checks = checkLines(result);
  const checkWidth = Math.max(...checks.map((c) => c.check.length));
  const lines = [
    `Verdict: ${result.verdict.toUpperCase()}`,
    `${result.tee.type} evidence, ${deviceSummary(result.gpus)}; as of ${result.verifiedAt}; trustgate ${result.verifierVersion}`,
    "",
    "Reasons:",
    ...(reasons.length === 0 ? ["  none: every check passed"] : reasons.map((r) => `  - ${r}`)),
    "",
    "Checks:",
    ...checks.map((c) => `  ${c.status.padEnd(4)}  ${c.check.padEnd(checkWidth)}  ${c.detail}`),
  ];
  if (result.gpus.length > 0)
    lines.push("", "GPUs and NVSwitches:", ...gpuTable(result.gpus).map((r) => `  ${r}`));
  const measurement = launchMeasurement(result);
  lines.push(
    "",
    "Evidence:",
    `  nonce        ${result.evidence.nonce || "-"}`,
    `  key          ${result.evidence.keyThumbprint || "-"} (RFC 7638 thumbprint)`,
  );
  if (measurement !== undefined)
    lines.push(`  ${result.tee.type === "tdx" ? "MRTD       " : "measurement"}  ${measurement}`);
  for (const section of extraSections)
    lines.push("", `${section.title}:`, ...section.lines.map((l) => `  ${l}`));
  return `${lines.map((l) => fit(l)).join("\n")}\n`;
}
