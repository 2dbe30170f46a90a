import { expect } from "chai";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EvidenceError } from "../../types.ts";
import { RimVerifier } from "./rim.ts";
import { diskCachedRimSource } from "./rim-disk-cache.ts";
import { rimCacheCheck, rimDescribesId } from "./rim-measurement-check.ts";
import type { RimSource } from "./rim-source.ts";
import { sharedRim } from "./rim.test.ts";

const DRIVER_ID = "NV_GPU_DRIVER_GH100_545.00";
const VBIOS_ID = "NV_GPU_VBIOS_1010_0200_882_96005E0001";
const driver = sharedRim("driver545");
const vbios = sharedRim("vbios545");
const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");

/** The RIM service: counts its requests; `down` makes it fail like an unreachable service. */
function service(rims: Record<string, string>) {
  const state = { requests: 0, down: false };
  const source: RimSource = {
    get(id) {
      state.requests++;
      if (state.down) return Promise.reject(new EvidenceError("RimUnavailable", "the RIM service is down"));
      return Promise.resolve(rims[id]);
    },
  };
  return { source, state };
}

/** A controller process: its own verifier (nothing in memory) over the shared cache directory. */
function controller(dir: string, inner: RimSource) {
  const rims = new RimVerifier();
  const problems: string[] = [];
  const source = diskCachedRimSource(inner, {
    dir,
    check: rimCacheCheck(rims),
    onProblem: (id, message) => problems.push(`${id}: ${message}`),
  });
  return { rims, problems, source };
}

function stored(dir: string, id: string): { id: string; sha256: string; rim: string } {
  return JSON.parse(readFileSync(join(dir, `${id}.json`), "utf8")) as {
    id: string;
    sha256: string;
    rim: string;
  };
}

describe("RIM cache on disk (--rim-cache-dir): survives restarts, trusts nothing it reads back", () => {
  let dir: string;
  beforeEach(() => {
    dir = join(mkdtempSync(join(tmpdir(), "trustgate-rim-cache-")), "rims");
  });

  it("stores a fetched RIM and serves it after a restart without asking the service, verified again", async () => {
    const nvidia = service({ [DRIVER_ID]: driver });
    expect(await controller(dir, nvidia.source).source.get(DRIVER_ID)).to.equal(driver);
    expect(stored(dir, DRIVER_ID)).to.deep.equal({ id: DRIVER_ID, sha256: sha256(driver), rim: driver });

    nvidia.state.down = true;
    const restarted = controller(dir, nvidia.source);
    expect(await restarted.source.get(DRIVER_ID)).to.equal(driver);
    expect(nvidia.state.requests).to.equal(1);
    expect(restarted.rims.stats.misses, "the signature was checked again on load").to.equal(1);
    expect(restarted.problems).to.deep.equal([]);
  });

  it("refuses a tampered entry whose digest was updated too (signature), refetches and overwrites it", async () => {
    const nvidia = service({ [DRIVER_ID]: driver });
    await controller(dir, nvidia.source).source.get(DRIVER_ID);
    // The attacker raises an allowed measurement and recomputes the recorded digest.
    const hash = /Hash0="([0-9a-f]{96})"/.exec(driver)?.[1] ?? "";
    const tampered = driver.replace(hash, `${hash.slice(0, 95)}${hash.endsWith("0") ? "1" : "0"}`);
    expect(tampered).to.not.equal(driver);
    const file = join(dir, `${DRIVER_ID}.json`);
    writeFileSync(file, JSON.stringify({ id: DRIVER_ID, sha256: sha256(tampered), rim: tampered }));

    const restarted = controller(dir, nvidia.source);
    expect(await restarted.source.get(DRIVER_ID)).to.equal(driver);
    expect(nvidia.state.requests).to.equal(2);
    expect(restarted.problems.join("\n")).to.match(/refused the cached RIM .*does not verify/);
    expect(stored(dir, DRIVER_ID).rim).to.equal(driver);
  });

  it("refuses a truncated file, JSON that is no entry, and a text that does not match its recorded digest", async () => {
    const nvidia = service({ [DRIVER_ID]: driver });
    await controller(dir, nvidia.source).source.get(DRIVER_ID);
    const file = join(dir, `${DRIVER_ID}.json`);
    const whole = readFileSync(file, "utf8");
    writeFileSync(file, whole.slice(0, whole.length / 2));
    const afterTruncation = controller(dir, nvidia.source);
    expect(await afterTruncation.source.get(DRIVER_ID)).to.equal(driver);
    expect(afterTruncation.problems.join("\n")).to.match(/not JSON/);

    for (const junk of ["null", "[]", '"text"', "7"]) {
      writeFileSync(file, junk);
      const afterJunk = controller(dir, nvidia.source);
      expect(await afterJunk.source.get(DRIVER_ID), junk).to.equal(driver);
      expect(afterJunk.problems.join("\n"), junk).to.match(/not a JSON object/);
    }

    writeFileSync(file, JSON.stringify({ ...stored(dir, DRIVER_ID), rim: driver.slice(0, -10) }));
    const afterEdit = controller(dir, nvidia.source);
    expect(await afterEdit.source.get(DRIVER_ID)).to.equal(driver);
    expect(afterEdit.problems.join("\n")).to.match(/does not match its recorded SHA-256/);
    expect(nvidia.state.requests).to.equal(7);
  });

  it("refuses another, correctly signed RIM stored under this ID (file renamed or its id field rewritten)", async () => {
    const nvidia = service({ [DRIVER_ID]: driver, [VBIOS_ID]: vbios });
    await controller(dir, nvidia.source).source.get(VBIOS_ID);
    const vbiosEntry = stored(dir, VBIOS_ID);
    writeFileSync(join(dir, `${DRIVER_ID}.json`), JSON.stringify(vbiosEntry));
    const renamed = controller(dir, nvidia.source);
    expect(await renamed.source.get(DRIVER_ID)).to.equal(driver);
    expect(renamed.problems.join("\n")).to.match(/stored for RIM "NV_GPU_VBIOS_/);

    writeFileSync(join(dir, `${DRIVER_ID}.json`), JSON.stringify({ ...vbiosEntry, id: DRIVER_ID }));
    const rewritten = controller(dir, nvidia.source);
    expect(await rewritten.source.get(DRIVER_ID)).to.equal(driver);
    expect(rewritten.problems.join("\n")).to.match(/it is the RIM of GPU version 96\.00\.5E\.00\.01/);
  });

  it("never serves a refused entry when the service is down: the service's error stands", async () => {
    const nvidia = service({ [DRIVER_ID]: driver });
    await controller(dir, nvidia.source).source.get(DRIVER_ID);
    writeFileSync(join(dir, `${DRIVER_ID}.json`), "{}");
    nvidia.state.down = true;
    const restarted = controller(dir, nvidia.source);
    let failure: unknown;
    await restarted.source.get(DRIVER_ID).catch((error: unknown) => (failure = error));
    expect((failure as EvidenceError).code).to.equal("RimUnavailable");
  });

  it("does not store what fails verification, and keeps IDs that are not RIM IDs off the disk", async () => {
    const bad = driver.replace("545.00", "545.01");
    const nvidia = service({ [DRIVER_ID]: bad, "NV_../../etc": driver });
    const { source } = controller(dir, nvidia.source);
    expect(await source.get(DRIVER_ID), "returned for the appraisal to reject").to.equal(bad);
    expect(existsSync(join(dir, `${DRIVER_ID}.json`))).to.equal(false);
    expect(await source.get("NV_../../etc")).to.equal(driver);
    expect(existsSync(dir) ? readdirSync(dir) : []).to.deep.equal([]);
  });

  it("an unwritable directory is reported and the RIM still served", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "trustgate-rim-cache-")), "a-file");
    writeFileSync(file, "");
    const { source, problems } = controller(join(file, "rims"), service({ [DRIVER_ID]: driver }).source);
    expect(await source.get(DRIVER_ID)).to.equal(driver);
    expect(problems.join("\n")).to.match(/cannot write the RIM cache file/);
  });

  it("rimDescribesId: edition and version from the ID (table)", () => {
    const table: [string, string, string, boolean][] = [
      [DRIVER_ID, "GPU", "545.00", true],
      [VBIOS_ID, "GPU", "96.00.5E.00.01", true],
      ["NV_SWITCH_BIOS_5612_0002_890_9610550001", "SWITCH", "96.10.55.00.01", true],
      [DRIVER_ID, "GPU", "45.00", false],
      [DRIVER_ID, "SWITCH", "545.00", false],
      [VBIOS_ID, "GPU", "545.00", false],
      ["NV_OTHER_545.00", "GPU", "545.00", false],
    ];
    for (const [id, edition, version, expected] of table)
      expect(rimDescribesId(id, { edition, version }), `${id} ${edition} ${version}`).to.equal(expected);
  });
});
