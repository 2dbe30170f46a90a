/**
 * `trustgate verify` fetching what a bundle lacks, as real guests send it (a quote or report alone): the production
 * Intel PCS/PCCS and AMD KDS sources, over real HTTPS, from simulated services serving the real fixtures' collateral.
 */
import { expect } from "chai";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { withoutCollateral } from "../../test/support/evidence/tdx-bundle-from-item.ts";
import { startFixtureCollateralServices } from "../../test/support/fakes/collateral-services.ts";
import { sharedBundleCases } from "../../test/support/shared-evidence.ts";
import type { SimulatedCollateralServices } from "../attestation/simulated/collateral-services.ts";
import type { Appraisal } from "../attestation/appraise.ts";
import { parseCommandArgs } from "../cli/command.ts";
import { verifyCommand } from "./verify.ts";

const COLLATERAL_CODES = ["CollateralMissing", "CollateralExpired", "CollateralUnavailable"];

describe("trustgate verify fetching collateral from Intel PCS/PCCS and AMD KDS (simulated, real HTTPS)", function () {
  this.timeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), "trustgate-collateral-"));
  let services: SimulatedCollateralServices;
  const caFile = join(dir, "ca.pem");

  before(async () => {
    services = await startFixtureCollateralServices();
    writeFileSync(caFile, services.caPem);
  });
  after(async () => {
    await services.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function verify(bundle: unknown, at: string, flags: string[]): Promise<Appraisal> {
    const path = join(dir, `bundle-${String(Math.random()).slice(2)}.json`);
    writeFileSync(path, JSON.stringify(bundle));
    let out = "";
    await verifyCommand.run(parseCommandArgs(verifyCommand, [path, "--at", at, ...flags]), {
      stdout: (text) => (out += text),
      stderr: () => undefined,
    });
    return JSON.parse(out) as Appraisal;
  }

  it("verifies a real TDX quote without collateral as authentic and UpToDate through the PCCS", async () => {
    const c = sharedBundleCases().find((x) => x.name.startsWith("tdx/dcapqvl-uptodate-v4"));
    if (c === undefined) throw new Error("missing the dcapqvl case");
    const bare = { ...c.bundle, tee: withoutCollateral(c.bundle.tee) };
    const offline = await verify(bare, c.at, []);
    expect(offline.tee.errors.map((e) => e.code)).to.include("CollateralMissing");
    const fetched = await verify(bare, c.at, [
      "--intel-pcs-url",
      services.url,
      "--collateral-ca-file",
      caFile,
    ]);
    expect(fetched.tee.authentic, JSON.stringify(fetched.tee.errors)).to.equal(true);
    expect(fetched.tee.tcbStatus).to.equal("UpToDate");
    expect(fetched.tee.errors.filter((e) => COLLATERAL_CODES.includes(e.code))).to.deep.equal([]);
    expect(services.seen.map((s) => new URL(s.path, services.url).pathname)).to.include.members([
      "/tdx/certification/v4/tcb",
      "/tdx/certification/v4/qe/identity",
      "/sgx/certification/v4/pckcrl",
      "/sgx/certification/v4/rootcacrl",
    ]);
  });

  it("verifies a real SNP report without VCEK or chain as authentic through KDS", async () => {
    const c = sharedBundleCases().find((x) => x.name.startsWith("snp/google-milan-v2") && x.authentic);
    if (c === undefined) throw new Error("missing the Milan case");
    const bare = { ...c.bundle, tee: { type: "snp", report: c.bundle.tee.report } };
    expect((await verify(bare, c.at, [])).tee.authentic, "offline, the VCEK is missing").to.equal(false);
    const fetched = await verify(bare, c.at, ["--amd-kds-url", services.url, "--collateral-ca-file", caFile]);
    expect(fetched.tee.authentic, JSON.stringify(fetched.tee.errors)).to.equal(true);
    expect(services.seen.some((s) => s.path.startsWith("/vcek/v1/Milan/"))).to.equal(true);
  });

  it("names the cause when a service is not trusted (its CA not given): never a bare fetch failure", async () => {
    const c = sharedBundleCases().find((x) => x.name.startsWith("snp/google-milan-v2") && x.authentic);
    if (c === undefined) throw new Error("missing the Milan case");
    const bare = { ...c.bundle, tee: { type: "snp", report: c.bundle.tee.report } };
    const untrusted = await verify(bare, c.at, ["--amd-kds-url", services.url]);
    expect(untrusted.tee.authentic).to.equal(false);
    const message = untrusted.tee.errors.map((e) => `${e.code}: ${e.message}`).join("\n");
    expect(message).to.include("CollateralUnavailable").and.include(`${services.url}/vcek/v1/Milan/`);
    expect(message, "the TLS cause").to.match(/certificate/i);
  });
});
