import { fileURLToPath } from "node:url";
import { HostRoot } from "../../src/agent/host-root.ts";
import { ccModeProviders, type CcModeInputs } from "../../src/agent/sources/cc-mode/default-providers.ts";
import type { CcModeProvider } from "../../src/agent/sources/cc-mode/provider.ts";

/** The host-root fixture cases under operator/test/fixtures/hosts (see its README). */
export const HOST_FIXTURES = [
  "tdx-8xh100",
  "tdx-8xh100-gpu-cc-off",
  "tdx-8xh100-cc-labels",
  "hgx-ppcie",
  "hgx-ppcie-switch-off",
  "hgx-mixed-modes",
  "snp-genoa-4xh100",
  "tdx-disabled",
  "iommu-off",
  "no-gpu",
  "garbage",
] as const;

/**
 * Cases with a cc-probe state file: what the agent says depends on the time, so they have no golden
 * output; tests scan them at PROBE_FIXTURE_NOW.
 */
export const PROBE_FIXTURES = [
  "tdx-8xh100-probe-fresh",
  "tdx-8xh100-probe-stale",
  "tdx-8xh100-probe-other-boot",
] as const;

export type HostFixture = (typeof HOST_FIXTURES)[number] | (typeof PROBE_FIXTURES)[number];

/** The kernel boot ID of the HGX trees (/proc/sys/kernel/random/boot_id). */
export const HGX_BOOT_ID = "4f1c2b7e-8d3a-4e5f-9a6b-1c2d3e4f5a6b";
/** When the fresh and other-boot probe fixtures were probed (the stale one three days earlier). */
export const PROBE_FIXTURE_TIME = "2026-03-02T08:00:00Z";
export const PROBE_FIXTURE_NOW = new Date("2026-03-02T09:00:00Z");

export function hostFixtureDir(name: HostFixture): string {
  return fileURLToPath(new URL(`../fixtures/hosts/${name}/`, import.meta.url));
}

export function hostFixture(name: HostFixture): HostRoot {
  return new HostRoot(hostFixtureDir(name));
}

/** The agent's default CC mode inputs (its flags' defaults). */
export const DEFAULT_CC_INPUTS: CcModeInputs = {
  ccModeSource: "auto",
  ccModeStateFile: "/etc/trustgate/cc-mode.json",
  ccProbeStateFile: "/run/trustgate/cc-probe.json",
  ccProbeMaxAgeMs: 24 * 3_600_000,
};

/** The providers the agent asks with its defaults, at `now`, with `labels` as its Node's labels. */
export function defaultProviders(
  now: Date = PROBE_FIXTURE_NOW,
  labels?: Record<string, string>,
  inputs: Partial<CcModeInputs> = {},
): CcModeProvider[] {
  return ccModeProviders(
    { ...DEFAULT_CC_INPUTS, ...inputs },
    now,
    labels === undefined ? undefined : { labels },
  );
}
