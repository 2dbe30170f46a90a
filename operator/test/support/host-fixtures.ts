import { fileURLToPath } from "node:url";
import { HostRoot } from "../../src/agent/host-root.ts";

/** The host-root fixture cases under operator/test/fixtures/hosts (see its README). */
export const HOST_FIXTURES = [
  "tdx-8xh100",
  "tdx-8xh100-gpu-cc-off",
  "snp-genoa-4xh100",
  "tdx-disabled",
  "iommu-off",
  "no-gpu",
  "garbage",
] as const;

export type HostFixture = (typeof HOST_FIXTURES)[number];

export function hostFixtureDir(name: HostFixture): string {
  return fileURLToPath(new URL(`../fixtures/hosts/${name}/`, import.meta.url));
}

export function hostFixture(name: HostFixture): HostRoot {
  return new HostRoot(hostFixtureDir(name));
}
