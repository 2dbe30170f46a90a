import type { Verdict } from "../../attestation/types.ts";
import { EXIT_FAILURE, EXIT_OK, UsageError } from "../../cli/command.ts";

/** The least verdict that fails `trustgate verify` (exit 1): a threshold, like a vulnerability scanner's `--fail-on <severity>`. */
export type FailOn = "warning" | "contraindicated";

export const FAIL_ON_VALUES: readonly FailOn[] = ["warning", "contraindicated"];

/** warning (the default): only affirming passes; contraindicated: a warning passes too. */
export function parseFailOn(value: string | undefined): FailOn {
  if (value === undefined) return "warning";
  if ((FAIL_ON_VALUES as readonly string[]).includes(value)) return value as FailOn;
  throw new UsageError(
    `trustgate verify: --fail-on ${JSON.stringify(value)} must be warning or contraindicated`,
  );
}

export function exitCodeFor(verdict: Verdict, failOn: FailOn): number {
  if (verdict === "affirming") return EXIT_OK;
  if (verdict === "warning") return failOn === "warning" ? EXIT_FAILURE : EXIT_OK;
  return EXIT_FAILURE;
}
