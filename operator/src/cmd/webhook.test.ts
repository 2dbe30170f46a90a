import { expect } from "chai";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { REPO_ROOT } from "../../test/support/samples.ts";
import { parseCommandArgs } from "../cli/command.ts";
import { selfManagedSettings, webhookCommand } from "./webhook.ts";

const DAY = 86_400_000;

function settings(argv: string[]) {
  return selfManagedSettings(parseCommandArgs(webhookCommand, argv), "trustgate-system");
}

describe("trustgate webhook flags", () => {
  it("defaults: the Service's DNS names, 90-day certificates under a 1-year CA, one configuration", () => {
    expect(settings([])).to.deep.equal({
      sans: [
        "trustgate-webhook.trustgate-system.svc",
        "trustgate-webhook.trustgate-system.svc.cluster.local",
      ],
      policy: { certLifetimeMs: 90 * DAY, caLifetimeMs: 365 * DAY },
      configurations: ["trustgate-webhook"],
      secret: "trustgate-webhook-tls",
      checkIntervalMs: 60_000,
    });
  });

  it("takes the service, domain, extra names, several configurations and lifetimes", () => {
    const s = settings([
      ...["--service-name", "tg-webhook", "--cluster-domain", "example.internal", "--tls-san", "127.0.0.1"],
      ...[
        "--tls-san",
        "tg-webhook.trustgate-system.svc",
        "--webhook-configuration",
        "a",
        "--webhook-configuration",
        "b",
      ],
      ...[
        "--cert-lifetime",
        "12s",
        "--ca-lifetime",
        "1h",
        "--cert-check-interval",
        "1s",
        "--cert-secret",
        "tls",
      ],
    ]);
    expect(s.sans).to.deep.equal([
      "tg-webhook.trustgate-system.svc",
      "tg-webhook.trustgate-system.svc.example.internal",
      "127.0.0.1",
    ]);
    expect(s).to.deep.include({
      policy: { certLifetimeMs: 12_000, caLifetimeMs: 3_600_000 },
      configurations: ["a", "b"],
      secret: "tls",
      checkIntervalMs: 1_000,
    });
  });

  const bad: [string[], string][] = [
    [["--cert-lifetime", "90 days"], "trustgate webhook: --cert-lifetime: invalid duration"],
    [["--cert-lifetime", "0s"], "trustgate webhook: --cert-lifetime: must be positive"],
    [["--ca-lifetime", "1h", "--cert-lifetime", "2h"], "--ca-lifetime must be at least --cert-lifetime"],
  ];
  for (const [argv, message] of bad) {
    it(`refuses ${argv.join(" ")}`, () => {
      expect(() => settings(argv)).to.throw(message);
    });
  }

  it("exits 2 with one line and a hint to --help on a bad flag, before touching any cluster", async () => {
    const result = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [join(REPO_ROOT, "operator/src/cmd/main.ts"), "webhook", "--ca-lifetime", "soon"],
        (error, _stdout, stderr) => {
          resolve({ code: error === null ? 0 : Number(error.code), stderr });
        },
      );
    });
    expect(result.code).to.equal(2);
    expect(result.stderr).to.include("trustgate webhook: --ca-lifetime: invalid duration");
    expect(result.stderr).to.include("Run 'trustgate webhook --help' for usage.");
    expect(result.stderr).not.to.include("Usage: trustgate webhook [options]");
  });
});
