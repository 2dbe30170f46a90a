/**
 * Pure appraisal of the event-level rules of a policy (`spec.tdx.events`, `requireSecureBoot`, `unknownEvents`)
 * against the claims of a replayed event log. Every violation names the event (index, type, description) and the
 * expected and actual digest or value. Without a replayed log every rule that is set fails closed.
 */
import type { TdxPolicy } from "../../policy/compiled-policy.ts";
import type { PolicyViolation } from "../../types.ts";
import { toHex } from "../hex.ts";
import { SECURE_BOOT_VARIABLES, type ClassifiedEvent, type EventLogClaims } from "./claims.ts";
import type { EventLogVerification } from "./index.ts";
import { describeEvent } from "./replay.ts";

/** The policy fields of the event-level rules that are set, by path. */
export function eventRulesSet(tdx: TdxPolicy): string[] {
  const events = tdx.events ?? {};
  const rules: string[] = [];
  for (const claim of ["kernel", "initrd", "cmdline"] as const) {
    if (events[claim] !== undefined) rules.push(`spec.tdx.events.${claim}`);
  }
  for (const name of SECURE_BOOT_VARIABLES) {
    if (events.secureBootVariables?.[name] !== undefined)
      rules.push(`spec.tdx.events.secureBootVariables.${name}`);
  }
  if (tdx.requireSecureBoot) rules.push("spec.tdx.requireSecureBoot");
  if (tdx.unknownEvents === "deny") rules.push("spec.tdx.unknownEvents");
  return rules;
}

function missing(field: string, expected: readonly string[], what: string): PolicyViolation {
  return {
    field,
    expected: [...expected],
    actual: "<missing>",
    message: `${field}: the event log has no ${what}`,
  };
}

function notAllowed(
  field: string,
  expected: readonly string[],
  entry: ClassifiedEvent,
  actual: string,
  what: string,
): PolicyViolation {
  const list = expected.map((value) => JSON.stringify(value)).join(", ");
  return {
    field,
    expected: [...expected],
    actual,
    message: `${field}: ${describeEvent(entry.event)} has ${what} ${JSON.stringify(actual)}, expected one of [${list}]`,
  };
}

function digestRule(
  field: string,
  allowed: readonly string[] | undefined,
  entries: readonly ClassifiedEvent[],
  what: string,
): PolicyViolation[] {
  if (allowed === undefined) return [];
  if (entries.length === 0) return [missing(field, allowed, what)];
  return entries
    .filter(({ event }) => !allowed.includes(toHex(event.sha384)))
    .map((entry) => notAllowed(field, allowed, entry, toHex(entry.event.sha384), `${what} digest`));
}

function claimRules(claims: EventLogClaims, tdx: TdxPolicy): PolicyViolation[] {
  const events = tdx.events ?? {};
  const violations = [
    ...digestRule(
      "spec.tdx.events.kernel",
      events.kernel,
      claims.kernel === undefined ? [] : [claims.kernel],
      "kernel",
    ),
    ...digestRule("spec.tdx.events.initrd", events.initrd, claims.initrd, "initrd"),
  ];
  const cmdlines = events.cmdline;
  if (cmdlines !== undefined) {
    const { cmdline } = claims;
    if (cmdline === undefined)
      violations.push(missing("spec.tdx.events.cmdline", cmdlines, "kernel command line event"));
    else if (!cmdlines.includes(cmdline.value ?? "")) {
      violations.push(
        notAllowed("spec.tdx.events.cmdline", cmdlines, cmdline, cmdline.value ?? "", "command line"),
      );
    }
  }
  for (const name of SECURE_BOOT_VARIABLES) {
    const entry = claims.secureBootVariables[name];
    violations.push(
      ...digestRule(
        `spec.tdx.events.secureBootVariables.${name}`,
        events.secureBootVariables?.[name],
        entry === undefined ? [] : [entry],
        `${name} variable`,
      ),
    );
  }
  if (tdx.requireSecureBoot && claims.secureBoot !== true) {
    const entry = claims.secureBootVariables.SecureBoot;
    violations.push({
      field: "spec.tdx.requireSecureBoot",
      expected: ["SecureBoot=1"],
      actual: entry?.value ?? "<missing>",
      message:
        entry === undefined
          ? "spec.tdx.requireSecureBoot: the event log has no SecureBoot variable event"
          : `spec.tdx.requireSecureBoot: ${describeEvent(entry.event)} says ${entry.value ?? "?"}: Secure Boot is off`,
    });
  }
  if (tdx.unknownEvents === "deny") {
    for (const entry of claims.unknown) {
      violations.push({
        field: "spec.tdx.unknownEvents",
        expected: ["classified events only"],
        actual: describeEvent(entry.event),
        message: `spec.tdx.unknownEvents: ${describeEvent(entry.event)} (digest ${toHex(entry.event.sha384)}) is not an event the claims classify, and the policy denies unknown events`,
      });
    }
  }
  return violations;
}

export function appraiseEventLog(log: EventLogVerification | undefined, tdx: TdxPolicy): PolicyViolation[] {
  const rules = eventRulesSet(tdx);
  if (rules.length === 0) return [];
  if (log?.status === "replayed" && log.claims !== undefined) return claimRules(log.claims, tdx);
  const why =
    log === undefined || log.status === "absent"
      ? "the bundle carries no event log (tee.eventLog)"
      : `the event log did not verify (${log.status})`;
  return rules.map((field) => ({
    field,
    expected: ["a replayed event log"],
    actual: log?.status ?? "absent",
    message: `${field}: ${why}, so this rule cannot be checked and fails closed`,
  }));
}
