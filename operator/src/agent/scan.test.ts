import { expect } from "chai";
import {
  defaultProviders,
  hostFixture,
  HOST_FIXTURES,
  PROBE_FIXTURES,
} from "../../test/support/host-fixtures.ts";
import { validateConfidentialHost } from "../api/v1alpha1/validation.ts";
import { decideTee, rfc3339Seconds, scanHost } from "./scan.ts";
import type { TeeFacts } from "./sources/tee-state.ts";

const now = new Date("2026-11-25T10:00:00.750Z");

describe("scanHost", () => {
  for (const name of [...HOST_FIXTURES, ...PROBE_FIXTURES]) {
    it(`produces a schema-valid status for ${name}`, async () => {
      const { status } = await scanHost({
        host: hostFixture(name),
        ccModeProviders: defaultProviders(now),
        now,
      });
      const result = validateConfidentialHost({
        apiVersion: "trustgate.io/v1alpha1",
        kind: "ConfidentialHost",
        metadata: { name: "n1" },
        spec: {},
        status,
      });
      expect(result.ok ? [] : result.errors).to.deep.equal([]);
      expect(status.gpuSummary?.ccReady).to.be.at.most(status.gpuSummary?.total ?? 0);
      expect(status.tee?.type !== "none" || !status.tee.enabled).to.equal(true);
    });
  }

  it("summarises the 8-GPU TDX host as ready and the host with one GPU off as one short", async () => {
    const on = await scanHost({
      host: hostFixture("tdx-8xh100"),
      ccModeProviders: defaultProviders(now),
      now,
    });
    expect(on.problems).to.deep.equal([]);
    expect(on.status.observedAt).to.equal("2026-11-25T10:00:00Z");
    expect(on.status.tee).to.deep.include({ type: "tdx", enabled: true, moduleVersion: "1.5.06" });
    expect(on.status.gpuSummary).to.deep.equal({
      total: 8,
      ccReady: 8,
      nvswitches: 4,
      mode: "on",
      ccModeSource: "file",
    });
    const off = await scanHost({
      host: hostFixture("tdx-8xh100-gpu-cc-off"),
      ccModeProviders: defaultProviders(now),
      now,
    });
    expect(off.status.gpuSummary).to.deep.include({ total: 8, ccReady: 7, mode: "mixed" });
  });

  it("puts every problem in tee.details under its source and never reports garbage as ready", async () => {
    const { status, problems } = await scanHost({
      host: hostFixture("garbage"),
      ccModeProviders: defaultProviders(now),
      now,
    });
    expect(status.tee).to.deep.include({ type: "unknown", enabled: false });
    expect(status.iommu?.enabled).to.equal(undefined);
    expect(status.gpuSummary).to.deep.equal({
      total: 3,
      ccReady: 0,
      nvswitches: 0,
      mode: "unknown",
      ccModeSource: "none",
    });
    const details = status.tee?.details ?? {};
    expect(Object.keys(details).filter((k) => k.startsWith("problems."))).to.have.members([
      "problems.gpus",
      "problems.iommu",
      "problems.platform",
      "problems.snp",
      "problems.tdx",
    ]);
    expect(problems.length).to.be.greaterThan(15);
    for (const value of Object.values(details)) expect(value.length).to.be.at.most(1024);
  });

  it("rounds observedAt to whole seconds", () => {
    expect(rfc3339Seconds(new Date("2026-01-02T03:04:05.999Z"))).to.equal("2026-01-02T03:04:05Z");
  });
});

describe("decideTee", () => {
  const facts = (state: TeeFacts["state"], version?: string): TeeFacts =>
    version === undefined ? { state } : { state, version };
  const cases: [string, TeeFacts | undefined, TeeFacts | undefined, string, object][] = [
    [
      "TDX enabled on Intel",
      facts("enabled", "1.5.06"),
      facts("absent"),
      "intel",
      { type: "tdx", enabled: true, moduleVersion: "1.5.06" },
    ],
    [
      "SNP enabled on AMD (no firmware version: the host does not expose it)",
      facts("absent"),
      facts("enabled"),
      "amd",
      { type: "snp", enabled: true },
    ],
    ["TDX off in the BIOS", facts("disabled"), facts("absent"), "intel", { type: "tdx", enabled: false }],
    ["SNP off", facts("absent"), facts("disabled"), "amd", { type: "snp", enabled: false }],
    ["no TEE support", facts("absent"), facts("absent"), "intel", { type: "none", enabled: false }],
    [
      "an unreadable TDX parameter",
      facts("unknown"),
      facts("absent"),
      "intel",
      { type: "unknown", enabled: false },
    ],
    ["a failed source", undefined, facts("absent"), "intel", { type: "unknown", enabled: false }],
    [
      "TDX enabled on an AMD CPU",
      facts("enabled", "1.5"),
      facts("absent"),
      "amd",
      { type: "unknown", enabled: false },
    ],
    [
      "TDX enabled on an unknown CPU",
      facts("enabled", "1.5"),
      facts("absent"),
      "unknown",
      { type: "unknown", enabled: false },
    ],
  ];
  for (const [name, tdx, snp, vendor, expected] of cases)
    it(`decides ${JSON.stringify(expected)} for ${name}`, () => {
      expect(decideTee(tdx, snp, vendor, [])).to.deep.equal(expected);
    });
});
