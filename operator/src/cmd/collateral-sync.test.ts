/**
 * `trustgate collateral sync` against simulated Intel PCS/PCCS serving real collateral over real HTTPS, and the
 * mirror it writes used offline by `trustgate verify --collateral-dir` (the controller uses the same directory source).
 */
import { expect } from "chai";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { withoutCollateral } from "../../test/support/evidence/tdx-bundle-from-item.ts";
import {
  startSimulatedCollateralServices,
  type SimulatedCollateralServices,
} from "../attestation/simulated/collateral-services.ts";
import { pccsFromItem } from "../attestation/simulated/item-collateral-routes.ts";
import { sharedBundleCases } from "../../test/support/shared-evidence.ts";
import { SHARED_TDX_DIR } from "../../test/fixtures/tdx/items.ts";
import type { Appraisal } from "../attestation/appraise.ts";
import { parseCommandArgs, type Command } from "../cli/command.ts";
import { collateralCommand } from "./collateral-sync.ts";
import { verifyCommand } from "./verify.ts";

const AT = "2025-07-01T00:00:00Z";

async function run(command: Command, argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await command.run(parseCommandArgs(command, argv), {
    stdout: (text) => (out += text),
    stderr: (text) => (err += text),
  });
  return { code, out, err };
}

describe("trustgate collateral sync (an offline mirror from a simulated PCCS, real HTTPS)", function () {
  this.timeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), "trustgate-sync-"));
  const caFile = join(dir, "ca.pem");
  let pccs: SimulatedCollateralServices;

  before(async () => {
    pccs = await startSimulatedCollateralServices({
      routes: [pccsFromItem(join(SHARED_TDX_DIR, "dcapqvl-uptodate-v4"))],
    });
    writeFileSync(caFile, pccs.caPem);
  });
  after(async () => {
    await pccs.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const intelOnly = (out: string, extra: string[] = []): string[] => [
    "sync",
    "--out",
    out,
    "--pccs-url",
    pccs.url,
    "--collateral-ca-file",
    caFile,
    "--amd-kds-url",
    "off",
    "--at",
    AT,
    ...extra,
  ];

  it("writes every Intel item for the FMSPC, and verify appraises a bare quote from the mirror alone", async () => {
    const out = join(dir, "mirror");
    const synced = await run(collateralCommand, intelOnly(out, ["--fmspc", "B0C06F000000"]));
    expect(synced.err).to.equal("");
    expect(synced.code).to.equal(0);
    expect(readdirSync(out).sort()).to.deep.equal([
      "pck-crl-platform-issuer-chain.pem",
      "pck-crl-platform.der",
      "pck-crl-processor-issuer-chain.pem",
      "pck-crl-processor.der",
      "qe-identity-issuer-chain.pem",
      "qe-identity.json",
      "root-ca-crl.der",
      "tcb-info-b0c06f000000-issuer-chain.pem",
      "tcb-info-b0c06f000000.json",
    ]);
    const summary = JSON.parse(synced.out) as { items: { kind: string; nextUpdate?: string }[] };
    expect(summary.items.find((i) => i.kind === "tdx-tcb-info")?.nextUpdate).to.equal(
      "2025-07-19T10:16:03.000Z",
    );

    const c = sharedBundleCases().find((x) => x.name.startsWith("tdx/dcapqvl-uptodate-v4"));
    if (c === undefined) throw new Error("missing the dcapqvl case");
    const bundle = join(dir, "bare.json");
    writeFileSync(bundle, JSON.stringify({ ...c.bundle, tee: withoutCollateral(c.bundle.tee) }));
    const verified = await run(verifyCommand, [bundle, "--at", c.at, "--collateral-dir", out]);
    const appraisal = JSON.parse(verified.out) as Appraisal;
    expect(appraisal.tee.authentic, JSON.stringify(appraisal.tee.errors)).to.equal(true);
    expect(appraisal.tee.tcbStatus).to.equal("UpToDate");
    expect(appraisal.tee.errors).to.deep.equal([]);
  });

  it("refuses expired collateral and writes nothing", async () => {
    const out = join(dir, "expired");
    const synced = await run(
      collateralCommand,
      intelOnly(out, ["--fmspc", "b0c06f000000", "--at", "2025-08-01T00:00:00Z"]),
    );
    expect(synced.code).to.equal(1);
    expect(synced.err)
      .to.include("nothing written")
      .and.include("tdx-tcb-info b0c06f000000: expired (nextUpdate 2025-07-19T10:16:03.000Z)");
    expect(existsSync(out)).to.equal(false);
  });

  it("refuses a TCB info for another FMSPC than asked for, and writes nothing", async () => {
    const out = join(dir, "other-fmspc");
    const synced = await run(collateralCommand, intelOnly(out, ["--fmspc", "00606a000000"]));
    expect(synced.code).to.equal(1);
    expect(synced.err).to.include(
      "tdx-tcb-info 00606a000000: the service answered the TCB info of FMSPC b0c06f000000",
    );
    expect(existsSync(out)).to.equal(false);
  });

  const usage: [string, string[], RegExp][] = [
    ["no --out", ["sync", "--intel-pcs-url", "off", "--amd-kds-url", "off"], /--out <dir> is required/],
    ["another subcommand", ["fetch", "--out", "/tmp/x"], /the only subcommand is sync/],
    [
      "a bad FMSPC",
      ["sync", "--out", "/tmp/x", "--fmspc", "zz", "--amd-kds-url", "off"],
      /--fmspc "zz" is not 6 bytes of hex/,
    ],
    [
      "both services off",
      ["sync", "--out", "/tmp/x", "--intel-pcs-url", "off", "--amd-kds-url", "off"],
      /both services are off/,
    ],
    [
      "an unknown AMD product",
      ["sync", "--out", "/tmp/x", "--intel-pcs-url", "off", "--amd-product", "Rome"],
      /--amd-product must be one of/,
    ],
  ];
  for (const [name, argv, message] of usage) {
    it(`refuses ${name}`, async () => {
      const error = await run(collateralCommand, argv).then(
        () => undefined,
        (e: unknown) => (e as Error).message,
      );
      expect(error).to.match(message);
    });
  }
});
