/** Prints trustgate's replay of an evidence item's CCEL (ccel_data.dat) and its quote's RTMRs, as JSON. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseEventLog } from "../operator/src/attestation/tdx/event-log/parse.ts";
import { replayRtmrs } from "../operator/src/attestation/tdx/event-log/replay.ts";
import { toHex } from "../operator/src/attestation/tdx/hex.ts";
import { parseTdxQuote } from "../operator/src/attestation/tdx/quote.ts";

const item = process.argv[2];
if (item === undefined) throw new Error("usage: node hack/replay-ccel.ts <evidence item dir>");
const { events } = parseEventLog(readFileSync(join(item, "ccel_data.dat")));
const quote = parseTdxQuote(readFileSync(join(item, "quote.dat")));
console.log(
  JSON.stringify({
    events: events.length,
    rtmrs: replayRtmrs(events).map(toHex),
    quote: quote.body.rtmrs.map(toHex),
  }),
);
