import { expect } from "chai";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { verifyEventLog } from "../../../operator/src/attestation/tdx/event-log/index.ts";
import { FakeConfigfsTsm } from "../../../operator/test/support/fakes/configfs-tsm.ts";
import { gcpCcel, gcpQuoteRtmrs, GCP_CCEL_DIR } from "../../../operator/test/support/evidence/gcp-ccel.ts";
import { readCcel } from "./ccel.ts";
import { ConfigfsTsmProvider } from "./configfs-tsm.ts";

describe("the guest's TDX event log (CCEL)", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "trustgate-ccel-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("sends the used part of the real 256 KiB area, which replays to the quote", async () => {
    const path = join(dir, "CCEL");
    await writeFile(path, gcpCcel());
    const eventLog = await readCcel(path);
    expect(Buffer.from(eventLog ?? "", "base64")).to.have.length(18101);
    expect(verifyEventLog(eventLog, gcpQuoteRtmrs()).status).to.equal("replayed");
  });

  it("no CCEL file (no ACPI table): no log", async () => {
    expect(await readCcel(join(dir, "absent"))).to.equal(undefined);
  });

  it("a log it cannot parse is sent whole, for the verifier to name the fault", async () => {
    const path = join(dir, "CCEL");
    await writeFile(path, Buffer.from("not an event log"));
    const eventLog = await readCcel(path);
    expect(Buffer.from(eventLog ?? "", "base64").toString()).to.equal("not an event log");
    expect(verifyEventLog(eventLog, gcpQuoteRtmrs()).status).to.equal("malformed");
  });

  it("a CCEL it may not read is an error naming the file", async () => {
    let message = "";
    await readCcel(dir).catch((error: unknown) => (message = (error as Error).message));
    expect(message).to.match(/^cannot read the TDX event log .*trustgate-ccel-/);
  });

  it("configfs-tsm attaches it to a TDX quote", async () => {
    const root = join(dir, "tsm");
    const ccelPath = join(dir, "CCEL");
    await writeFile(ccelPath, gcpCcel());
    const quote = new Uint8Array(await readFile(join(GCP_CCEL_DIR, "quote.dat")));
    await mkdir(root);
    const kernel = new FakeConfigfsTsm(root, {
      provider: "tdx_guest",
      makeReport: () => Promise.resolve({ outblob: quote }),
    });
    const tee = await new ConfigfsTsmProvider({ root, fs: kernel, ccelPath }).collect(new Uint8Array(64));
    expect(tee.type).to.equal("tdx");
    expect(tee.quote).to.equal(Buffer.from(quote).toString("base64"));
    expect(verifyEventLog(tee.eventLog, gcpQuoteRtmrs()).status).to.equal("replayed");
  });
});
