import { expect } from "chai";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ParsedArgs } from "../cli/command.ts";
import { collateralSettingsFromArgs } from "./collateral-flags.ts";

const args = (values: Record<string, string>): ParsedArgs => ({ values, positionals: [] });
const dir = mkdtempSync(join(tmpdir(), "trustgate-collateral-flags-"));

async function refusal(values: Record<string, string>, defaults: "services" | "offline" = "services") {
  return collateralSettingsFromArgs(args(values), "controller", defaults).then(
    () => undefined,
    (error: unknown) => (error as Error).message,
  );
}

describe("collateral flags", () => {
  const cases: {
    name: string;
    values: Record<string, string>;
    defaults: "services" | "offline";
    expected: Record<string, unknown>;
  }[] = [
    {
      name: "the controller asks Intel PCS and AMD KDS by default",
      values: {},
      defaults: "services",
      expected: {
        intelPcsUrl: "https://api.trustedservices.intel.com",
        amdKdsUrl: "https://kdsintf.amd.com",
      },
    },
    {
      name: "verify stays offline by default",
      values: {},
      defaults: "offline",
      expected: {},
    },
    {
      name: "off turns a service off (air-gapped, with a mirror)",
      values: { "intel-pcs-url": "off", "amd-kds-url": "off", "collateral-dir": "/mirror" },
      defaults: "services",
      expected: { mirrorDir: "/mirror" },
    },
    {
      name: "a PCCS replaces Intel PCS",
      values: { "pccs-url": "https://pccs.example:8081", "intel-pcs-update": "early" },
      defaults: "services",
      expected: {
        pccsUrl: "https://pccs.example:8081",
        intelPcsUpdate: "early",
        amdKdsUrl: "https://kdsintf.amd.com",
      },
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const { settings } = await collateralSettingsFromArgs(args(c.values), "controller", c.defaults);
      const named = Object.fromEntries(
        Object.entries(settings).filter(([key]) => !["staleGraceMs", "refreshAheadMs"].includes(key)),
      );
      expect(named).to.deep.equal(c.expected);
    });
  }

  it("the controller's deadline and grace default to 30s and 24h and take durations", async () => {
    const defaults = await collateralSettingsFromArgs(args({}), "controller", "services");
    expect([defaults.deadlineMs, defaults.settings.staleGraceMs]).to.deep.equal([30_000, 86_400_000]);
    const set = await collateralSettingsFromArgs(
      args({ "collateral-deadline": "5s", "collateral-stale-grace": "0s" }),
      "controller",
      "services",
    );
    expect([set.deadlineMs, set.settings.staleGraceMs]).to.deep.equal([5000, 0]);
  });

  it("reads the services' CA file", async () => {
    const file = join(dir, "ca.pem");
    writeFileSync(file, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
    const { settings } = await collateralSettingsFromArgs(
      args({ "collateral-ca-file": file }),
      "verify",
      "offline",
    );
    expect(settings.caPem).to.include("BEGIN CERTIFICATE");
  });

  const refusals: [string, Record<string, string>, RegExp][] = [
    ["plain http", { "intel-pcs-url": "http://pcs.example" }, /--intel-pcs-url must be an https:\/\/ URL/],
    ["not a URL", { "amd-kds-url": "kds" }, /--amd-kds-url "kds" is not a URL/],
    ["credentials in the URL", { "pccs-url": "https://u:p@pccs.example" }, /without credentials or query/],
    [
      "both PCS and PCCS",
      { "intel-pcs-url": "https://a.example", "pccs-url": "https://b.example" },
      /--intel-pcs-url or --pccs-url, not both/,
    ],
    ["pccs off", { "pccs-url": "off" }, /--pccs-url takes a URL/],
    ["an unknown update", { "intel-pcs-update": "latest" }, /--intel-pcs-update must be standard or early/],
    ["a bad duration", { "collateral-deadline": "soon" }, /--collateral-deadline: invalid duration "soon"/],
    [
      "a missing CA file",
      { "collateral-ca-file": "/nonexistent/ca.pem" },
      /cannot read --collateral-ca-file/,
    ],
  ];
  for (const [name, values, message] of refusals) {
    it(`refuses ${name}`, async () => {
      expect(await refusal(values)).to.match(message);
    });
  }

  it("reads an Intel PCS API key from a file and refuses a file that holds anything else", async () => {
    const file = join(dir, "api-key");
    writeFileSync(file, "0123456789abcdef\n");
    const { settings } = await collateralSettingsFromArgs(
      args({ "intel-pcs-api-key-file": file }),
      "controller",
      "services",
    );
    expect(settings.intelPcsApiKey).to.equal("0123456789abcdef");
    writeFileSync(file, "two words\n");
    expect(await refusal({ "intel-pcs-api-key-file": file })).to.match(/does not hold one printable key/);
  });

  it("refuses a CA file without a PEM certificate", async () => {
    const file = join(dir, "not-a-ca.pem");
    writeFileSync(file, "hello");
    expect(await refusal({ "collateral-ca-file": file })).to.match(/holds no PEM certificate/);
  });
});
