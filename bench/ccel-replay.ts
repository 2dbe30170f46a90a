/**
 * Cost of the TDX event-log check per bundle: base64 decode, parse, the data-bound digest checks and the RTMR replay
 * of a synthetic 400-event CCEL built from the real GCP log's events (cycled, with distinct digests for the
 * opaque ones), padded to the 256 KiB of a real CCEL area. Target: at most 1 ms per bundle.
 *
 *   node bench/ccel-replay.ts [--seconds 1] [--events 400]
 */
import { createHash, hash } from "node:crypto";
import { parseArgs } from "node:util";
import { verifyEventLog } from "../operator/src/attestation/tdx/event-log/index.ts";
import { dataDigest } from "../operator/src/attestation/tdx/event-log/event-types.ts";
import { parseEventLog, type TdEvent } from "../operator/src/attestation/tdx/event-log/parse.ts";
import { replayRtmrs } from "../operator/src/attestation/tdx/event-log/replay.ts";
import { buildEventLog } from "../operator/test/support/evidence/event-log-builder.ts";
import { gcpCcel } from "../operator/test/support/evidence/gcp-ccel.ts";

const { values } = parseArgs({
  options: { seconds: { type: "string", default: "1" }, events: { type: "string", default: "400" } },
});
const count = Number(values.events);
const real = parseEventLog(gcpCcel()).events;
const events: TdEvent[] = Array.from({ length: count }, (_, index) => {
  const shape = real[index % real.length] as TdEvent;
  const opaque = dataDigest(shape.eventType, shape.data) === undefined;
  const sha384 = opaque ? createHash("sha384").update(`event ${index}`).digest() : shape.sha384;
  return { ...shape, index, sha384 };
});
const used = buildEventLog(events);
const area = Buffer.concat([used, Buffer.alloc(Math.max(0, 262144 - used.length), 0xff)]);
const base64 = area.toString("base64");
const rtmrs = replayRtmrs(events);

const check = verifyEventLog(base64, rtmrs);
if (check.status !== "replayed" || check.events.length !== count) {
  throw new Error(`the synthetic log does not replay: ${JSON.stringify(check.errors)}`);
}
/** CPU milliseconds per call (user + system of this process): what one core spends, even on a shared machine. */
function cpuMsPerCall(work: () => unknown): number {
  for (let i = 0; i < 50; i++) work();
  const until = performance.now() + Number(values.seconds) * 1000;
  const cpu = process.cpuUsage();
  let calls = 0;
  while (performance.now() < until) {
    for (let i = 0; i < 10; i++) work();
    calls += 10;
  }
  const used = process.cpuUsage(cpu);
  return (used.user + used.system) / 1000 / calls;
}

const trimmed = used.toString("base64");
const extendInput = Buffer.alloc(96, 1);
const scenarios: [string, number][] = [
  ["log as the guest sends it (padding trimmed)", cpuMsPerCall(() => verifyEventLog(trimmed, rtmrs))],
  ["whole 256 KiB CCEL area", cpuMsPerCall(() => verifyEventLog(base64, rtmrs))],
  [
    `floor: ${count} SHA-384 extends alone`,
    cpuMsPerCall(() => {
      for (let i = 0; i < count; i++) hash("sha384", extendInput, "buffer");
    }),
  ],
];
console.log(
  `Node ${process.version}: ${count} events, ${used.length} bytes used of a ${area.length}-byte CCEL area; CPU ms per bundle of one core`,
);
for (const [name, ms] of scenarios) console.log(`${name.padEnd(48)} ${ms.toFixed(3)} ms`);
const verdict = (scenarios[0]?.[1] ?? Infinity) <= 1 ? "met" : "MISSED";
console.log(`target <= 1 ms per bundle (as sent): ${verdict}`);
