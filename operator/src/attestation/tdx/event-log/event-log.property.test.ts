import { expect } from "chai";
import fc from "fast-check";
import { gcpCcel, gcpQuoteRtmrs } from "../../../../test/support/evidence/gcp-ccel.ts";
import { toHex } from "../hex.ts";
import { dataDigest } from "./event-types.ts";
import { verifyEventLog } from "./index.ts";
import { parseEventLog } from "./parse.ts";
import { replayRtmrs, rtmrOf } from "./replay.ts";

/** Offset of an event's SHA-384 digest in its record: MR index, type, count (4 each), algorithm ID (2). */
const DIGEST_OFFSET = 14;

describe("CCEL property: mutations of the real GCP log are refused or replay to the same RTMRs", () => {
  const log = gcpCcel();
  const { events, length } = parseEventLog(log);
  const rtmrs = gcpQuoteRtmrs();
  const quoted = rtmrs.map(toHex);

  it("every single-byte mutation of every SHA-384 digest is EventLogMismatch naming that event", () => {
    const used = Buffer.from(log.subarray(0, length));
    let checked = 0;
    for (const event of events) {
      const bound = dataDigest(event.eventType, event.data) !== undefined;
      for (let byte = 0; byte < 48; byte++) {
        const mutated = Buffer.from(used);
        const at = event.offset + DIGEST_OFFSET + byte;
        mutated[at] = (mutated[at] ?? 0) ^ (1 + ((event.index * 48 + byte) % 255));
        const { status, errors } = verifyEventLog(mutated.toString("base64"), rtmrs);
        expect(status, `event ${event.index} byte ${byte}`).to.equal("mismatch");
        expect(errors, `event ${event.index} byte ${byte}`).to.have.length(1);
        const [error] = errors;
        expect(error?.code).to.equal("EventLogMismatch");
        if (bound) {
          // The digest contradicts the event's own data: the event is named exactly.
          expect(error?.message).to.match(new RegExp(`^event ${event.index} \\(`));
        } else {
          // The digest covers data outside the log: the RTMR is named, and the event is among the candidates.
          expect(error?.message).to.match(new RegExp(`^RTMR${String(rtmrOf(event))} replays to `));
          const candidates = /events \[([\d, ]+)\]/
            .exec(error?.message ?? "")?.[1]
            ?.split(", ")
            .map(Number);
          expect(candidates, error?.message).to.include(event.index);
        }
        checked++;
      }
    }
    expect(checked).to.equal(43 * 48);
  });

  it("random byte mutations of the whole log (seeded) never throw, and are refused or replay to the quote", () => {
    const used = Buffer.from(log.subarray(0, length + 64));
    const outcomes = { malformed: 0, mismatch: 0, replayed: 0 };
    fc.assert(
      fc.property(
        fc.array(fc.record({ at: fc.nat(used.length - 1), value: fc.integer({ min: 0, max: 255 }) }), {
          minLength: 1,
          maxLength: 4,
        }),
        (mutations) => {
          const mutated = Buffer.from(used);
          for (const { at, value } of mutations) mutated[at] = value;
          const result = verifyEventLog(mutated.toString("base64"), rtmrs);
          outcomes[result.status === "absent" ? "malformed" : result.status]++;
          if (result.status === "replayed") {
            expect(replayRtmrs(result.events).map(toHex)).to.deep.equal(quoted);
          } else {
            expect(result.events).to.deep.equal([]);
            expect(result.errors.length).to.be.greaterThan(0);
          }
        },
      ),
      { seed: 15, numRuns: 3000 },
    );
    // Most bytes of the log are digests, sizes or bound data; description bytes of opaque events are not covered.
    expect(outcomes.mismatch + outcomes.malformed).to.be.greaterThan(outcomes.replayed);
  });
});
