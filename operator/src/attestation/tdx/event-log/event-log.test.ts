import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { GCP_CCEL_DIR, gcpCcel, gcpQuoteRtmrs } from "../../../../test/support/evidence/gcp-ccel.ts";
import { tdxTeeFromItem } from "../../../../test/support/evidence/tdx-bundle-from-item.ts";
import { appraise } from "../../appraise.ts";
import { compilePolicySpec } from "../../policy/compiled-policy.ts";
import { defaultTeeBackends } from "../../registry.ts";
import type { TeeEvidence } from "../../types.ts";
import { tdxVerifier } from "../verifier.ts";
import {
  buildEventLog,
  eventRecord,
  specIdHeader,
} from "../../../../test/support/evidence/event-log-builder.ts";
import { toHex } from "../hex.ts";
import { verifyEventLog } from "./index.ts";
import { ALG_SHA384, MAX_EVENT_LOG_BYTES, parseEventLog, type TdEvent } from "./parse.ts";
import { replayErrors, replayRtmrs } from "./replay.ts";

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString("base64");
const sha384 = (text: string): Uint8Array => createHash("sha384").update(text).digest();
const gcpEvents = (): TdEvent[] => parseEventLog(gcpCcel()).events;

describe("CCEL parsing and RTMR replay on the real GCP log (google-gcp-cos113-ccel)", () => {
  it("parses 43 events after the Spec ID header and stops at the 0xFF padding", () => {
    const log = parseEventLog(gcpCcel());
    expect(log.algorithms).to.deep.equal([{ id: ALG_SHA384, size: 48 }]);
    expect(log.events).to.have.length(43);
    expect(log.length).to.equal(18101);
    expect(log.events.map((event) => event.mrIndex)).to.include.members([1, 2, 3]);
    expect(log.events.every((event) => event.mrIndex >= 1 && event.mrIndex <= 3)).to.equal(true);
  });

  it("replays to the quote's RTMR0..3 exactly (RTMR3 stays zero)", () => {
    const replayed = replayRtmrs(gcpEvents()).map(toHex);
    expect(replayed).to.deep.equal(gcpQuoteRtmrs().map(toHex));
    expect(replayed[0]).to.equal(
      "3fa2f61f395b7f5feefb4ec2df61297f109ad8abcd6410c1b7df60f21f37b19297fc35e544039c7e1edece752afd17f6",
    );
    expect(replayed[3]).to.equal("00".repeat(48));
    const verified = verifyEventLog(b64(gcpCcel()), gcpQuoteRtmrs());
    expect(verified.status).to.equal("replayed");
    expect(verified.errors).to.deep.equal([]);
  });

  it("is the same log with the padding cut off or 0x00 padding instead of 0xFF", () => {
    const used = gcpCcel().subarray(0, 18101);
    expect(verifyEventLog(b64(used), gcpQuoteRtmrs()).status).to.equal("replayed");
    const zeroPadded = Buffer.concat([used, Buffer.alloc(4096)]);
    expect(verifyEventLog(b64(zeroPadded), gcpQuoteRtmrs()).status).to.equal("replayed");
  });

  it("says the log is absent when the bundle carries none", () => {
    expect(verifyEventLog(undefined, gcpQuoteRtmrs())).to.deep.equal({
      status: "absent",
      events: [],
      errors: [],
    });
  });
});

describe("CCEL attacks: a log that does not describe what the quote measured", () => {
  it("an event appended after the last measurement is named as not measured", () => {
    const events = gcpEvents();
    const appended = { mrIndex: 3, eventType: 0xd, sha384: sha384("evil"), data: new Uint8Array([1]) };
    const log = buildEventLog([...events, appended]);
    const { status, errors } = verifyEventLog(b64(log), gcpQuoteRtmrs());
    expect(status).to.equal("mismatch");
    expect(errors).to.have.length(1);
    expect(errors[0]?.code).to.equal("EventLogMismatch");
    expect(errors[0]?.message).to.match(
      /^RTMR2 replays to .* the quote matches the log up to event 40 .*; event 43 \(EV_IPL, RTMR2\) and the 1 event\(s\) after it were not measured/,
    );
  });

  it("a dropped event is refused naming the RTMR", () => {
    const events = gcpEvents().filter((event) => event.index !== 17);
    const { errors } = verifyEventLog(b64(buildEventLog(events)), gcpQuoteRtmrs());
    expect(errors.map((error) => error.code)).to.deep.equal(["EventLogMismatch"]);
    expect(errors[0]?.message).to.match(/^RTMR1 replays to [0-9a-f]{96}, the quote has f62dbc07/);
  });

  it("the kernel command line rewritten (data changed, digest kept) is named by its event", () => {
    const events = gcpEvents();
    const cmdline = events[40];
    if (cmdline === undefined) throw new Error("no event 40");
    const text = Buffer.from(cmdline.data).toString("latin1").replace("init=", "init=/bin/sh ");
    const forged = [
      ...events.slice(0, 40),
      { ...cmdline, data: Buffer.from(text, "latin1") },
      ...events.slice(41),
    ];
    const { errors } = verifyEventLog(b64(buildEventLog(forged)), gcpQuoteRtmrs());
    expect(errors).to.have.length(1);
    expect(errors[0]?.message).to.match(
      /^event 40 \(EV_IPL "kernel_cmdline: .*", RTMR2\): its SHA-384 digest [0-9a-f]{96} is not the digest of its event data/,
    );
  });

  it("the log of another boot (replays to itself, not to this quote) is refused on every RTMR that differs", () => {
    const other = gcpEvents().map((event) =>
      event.index === 9 ? { ...event, sha384: sha384("other ACPI tables") } : event,
    );
    const { errors } = verifyEventLog(b64(buildEventLog(other)), gcpQuoteRtmrs());
    expect(errors).to.have.length(1);
    expect(errors[0]?.message).to.match(
      /^RTMR0 .*first possible divergence at event 0 .*\[0, 1, 8, 9, 10, 11, 12, 13\]/,
    );
  });

  it("an event of MR index 5 (no RTMR) is refused", () => {
    const events = [
      ...gcpEvents(),
      { mrIndex: 5, eventType: 0xd, sha384: sha384("x"), data: new Uint8Array() },
    ];
    const { errors } = verifyEventLog(b64(buildEventLog(events)), gcpQuoteRtmrs());
    expect(errors.map((error) => error.message)).to.deep.equal([
      "event 43 (EV_IPL, RTMR4) extends MR index 5, which maps to no RTMR (1..4 are RTMR0..3)",
    ]);
  });

  it("EV_NO_ACTION and MR index 0 events are not replayed", () => {
    const extra = [
      { mrIndex: 2, eventType: 0x3, sha384: sha384("no action"), data: new Uint8Array([1]) },
      { mrIndex: 0, eventType: 0xd, sha384: sha384("mrtd"), data: new Uint8Array([2]) },
    ];
    const log = buildEventLog([...gcpEvents(), ...extra]);
    expect(verifyEventLog(b64(log), gcpQuoteRtmrs()).status).to.equal("replayed");
  });
});

describe("CCEL bad input: precise reasons, never a throw", () => {
  const rtmrs = gcpQuoteRtmrs();
  const reason = (bytes: Uint8Array): string => {
    const result = verifyEventLog(b64(bytes), rtmrs);
    expect(result.status).to.equal("malformed");
    expect(result.events).to.deep.equal([]);
    return result.errors.map((error) => `${error.code}: ${error.message}`).join("; ");
  };
  const one = gcpEvents().slice(0, 1);

  const cases: [string, () => Uint8Array, RegExp][] = [
    [
      "empty",
      () => new Uint8Array(),
      /truncated: the header's MR index needs 4 bytes at offset 0, only 0 remain/,
    ],
    [
      "truncated in an event header",
      () => gcpCcel().subarray(0, 18000),
      /truncated: event 42 \(offset 17995\) event type needs 4 bytes at offset 17999, only 1 remain/,
    ],
    [
      "truncated in a digest",
      () => buildEventLog(one).subarray(0, 80),
      /event 0 \(offset 65\) digest needs 48 bytes at offset 79/,
    ],
    [
      "a first record that is no Spec ID event",
      () => buildEventLog(one).subarray(65),
      /first record has event type 0x8000000b, not EV_NO_ACTION/,
    ],
    [
      "a SHA-1 (legacy) log",
      () =>
        Buffer.concat([
          Buffer.from([1, 0, 0, 0, 3, 0, 0, 0]),
          Buffer.alloc(20),
          Buffer.from([16, 0, 0, 0]),
          Buffer.alloc(16),
        ]),
      /not a crypto-agile Spec ID event/,
    ],
    [
      "an unknown algorithm in the Spec ID header",
      () =>
        buildEventLog(one, {
          algorithms: [
            { id: ALG_SHA384, size: 48 },
            { id: 0x1234, size: 32 },
          ],
        }),
      /unknown digest algorithm 0x1234/,
    ],
    [
      "a wrong digest size for a known algorithm",
      () => specIdHeader([{ id: ALG_SHA384, size: 32 }]),
      /gives sha384 a digest size of 32, not 48/,
    ],
    [
      "no SHA-384 in the header",
      () => buildEventLog([], { algorithms: [{ id: 0x000b, size: 32 }] }),
      /lists no SHA-384 digest/,
    ],
    [
      "a digest count that differs from the header",
      () =>
        Buffer.concat([
          specIdHeader([{ id: ALG_SHA384, size: 48 }]),
          eventRecord(one[0] as TdEvent, [
            { id: ALG_SHA384, size: 48 },
            { id: 0x000b, size: 32 },
          ]),
        ]),
      /event 0 \(offset 65\) has 2 digests, the Spec ID header lists 1 algorithms/,
    ],
    [
      "a digest of an algorithm the header does not list",
      () =>
        Buffer.concat([
          specIdHeader([{ id: ALG_SHA384, size: 48 }]),
          eventRecord(one[0] as TdEvent, [{ id: 0x000d, size: 64 }]),
        ]),
      /event 0 \(offset 65\) has a digest of algorithm 0x000d, which the Spec ID header does not list/,
    ],
    [
      "an event size beyond the log",
      () => {
        const log = buildEventLog(one);
        log.writeUInt32LE(0xffffffff, 65 + 12 + 50);
        return log;
      },
      /event data of 4294967295 bytes needs 4294967295 bytes/,
    ],
    [
      "a log larger than a CCEL area can be",
      () => new Uint8Array(MAX_EVENT_LOG_BYTES + 1),
      /EvidenceTooLarge: tee.eventLog is 4194305 bytes/,
    ],
  ];
  for (const [name, bytes, expected] of cases) {
    it(name, () => {
      expect(reason(bytes())).to.match(expected);
    });
  }

  it("text that is not base64", () => {
    expect(verifyEventLog("not base64!", rtmrs).errors).to.deep.equal([
      { code: "EvidenceMalformed", message: "tee.eventLog is not base64" },
    ]);
  });

  it("a log with SHA-256 and SHA-384 digests replays the SHA-384 ones", () => {
    const algorithms = [
      { id: 0x000b, size: 32 },
      { id: ALG_SHA384, size: 48 },
    ];
    const log = buildEventLog(gcpEvents(), { algorithms });
    expect(verifyEventLog(b64(log), rtmrs).status).to.equal("replayed");
  });

  it("replayErrors is empty for the real log and names every RTMR of an empty log but RTMR3", () => {
    expect(replayErrors(gcpEvents(), rtmrs)).to.deep.equal([]);
    const empty = replayErrors([], rtmrs).map((error) => error.message.slice(0, 5));
    expect(empty).to.deep.equal(["RTMR0", "RTMR1", "RTMR2"]);
  });
});

describe("the TDX verifier replays tee.eventLog", () => {
  const now = new Date("2025-06-10T00:00:00Z");
  const tee = (): TeeEvidence => tdxTeeFromItem(GCP_CCEL_DIR);

  it("the GCP bundle: authentic, UpToDate, eventLog replayed with its 43 events", async () => {
    const result = await tdxVerifier.verify(tee(), { now });
    expect(result.errors).to.deep.equal([]);
    expect(result.tcbStatus).to.equal("UpToDate");
    expect(result.claims.eventLog).to.equal("replayed");
    expect(result.eventLog?.events).to.have.length(43);
  });

  it("a log that does not replay is an EventLogMismatch error of an otherwise authentic quote", async () => {
    const events = gcpEvents().slice(0, 42);
    const result = await tdxVerifier.verify({ ...tee(), eventLog: b64(buildEventLog(events)) }, { now });
    expect(result.authentic).to.equal(true);
    expect(result.claims.eventLog).to.equal("mismatch");
    expect(result.errors.map((error) => error.code)).to.deep.equal(["EventLogMismatch"]);
    expect(result.errors[0]?.message).to.match(/^RTMR1 replays to/);
  });

  it("without a log the verification says so and passes", async () => {
    const bare = tee();
    delete bare.eventLog;
    const result = await tdxVerifier.verify(bare, { now });
    expect(result.errors).to.deep.equal([]);
    expect(result.claims.eventLog).to.equal("absent");
  });
});

describe("cross-check with PyPI pytdxmeasure 0.0.9 (TRUSTGATE_CROSSCHECK=1; needs python3 and PyPI once)", () => {
  const crosscheck = process.env["TRUSTGATE_CROSSCHECK"] === "1" ? it : it.skip;
  crosscheck("replays the GCP CCEL to the same RTMR0..3 as ours and the quote", function () {
    this.timeout(300_000);
    const script = fileURLToPath(new URL("../../../../../hack/crosscheck-ccel.sh", import.meta.url));
    const output = execFileSync("bash", [script], {
      env: { ...process.env, NODE: process.execPath },
    }).toString();
    expect(output).to.include("RTMR0..3 equal: true; events 43 vs 43; equal to the quote: true");
  });
});

describe("an event log larger than --max-evidence-bytes", () => {
  it("is refused unread as EvidenceTooLarge, naming the event log's share", async () => {
    const bundle = {
      nonce: "00".repeat(32),
      publicKey: { kty: "EC", crv: "P-256", x: "x", y: "y" },
      tee: { ...tdxTeeFromItem(GCP_CCEL_DIR), eventLog: b64(new Uint8Array(2 * 1024 * 1024)) },
    };
    const report = await appraise(bundle, compilePolicySpec({}), {
      now: new Date("2025-06-20T00:00:00Z"),
      backends: { tees: defaultTeeBackends() },
      maxEvidenceBytes: 1024 * 1024,
    });
    expect(report.verdict).to.equal("contraindicated");
    expect(report.tee.errors).to.have.length(1);
    expect(report.tee.errors[0]?.code).to.equal("EvidenceTooLarge");
    expect(report.tee.errors[0]?.message).to.match(
      /^status\.evidence is \d+ bytes of JSON, of which tee\.eventLog is 2796204, more than the limit of 1048576 \(--max-evidence-bytes\); not verified$/,
    );
  });
});
