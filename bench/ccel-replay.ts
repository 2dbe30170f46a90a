/**
 * Cost of the TDX event-log check per bundle (verifyEventLog: base64 decode, parse, the checks of digests bound to
 * their data, the RTMR replay and the event-level claims), on synthetic 400-event CCELs built from the real GCP
 * log's events (opaque events get distinct digests):
 *
 * - typical: the real boot once (43 events: one set of Secure Boot variables, shim, GRUB, kernel) followed by
 *   357 boot-loader-stage events cycled from its RTMR1/RTMR2 events (GRUB commands, files, boot applications),
 *   which is what makes real logs long;
 * - worst case: the whole real log cycled to 400 events (nine copies of PK, KEK, db and the 4.5 KB dbx, each hashed
 *   to check it is bound to its data).
 *
 * Target: at most 1 ms per bundle. CPU time of this process per call, so a shared machine counts one core's work.
 *
 *   node bench/ccel-replay.ts [--seconds 1] [--events 400]
 */
import { createHash, hash } from "node:crypto";
import { parseArgs } from "node:util";
import { dataDigest } from "../operator/src/attestation/tdx/event-log/event-types.ts";
import { verifyEventLog } from "../operator/src/attestation/tdx/event-log/index.ts";
import { parseEventLog, type TdEvent } from "../operator/src/attestation/tdx/event-log/parse.ts";
import { replayRtmrs } from "../operator/src/attestation/tdx/event-log/replay.ts";
import { buildEventLog } from "../operator/test/support/evidence/event-log-builder.ts";
import { gcpCcel } from "../operator/test/support/evidence/gcp-ccel.ts";

const { values } = parseArgs({
  options: { seconds: { type: "string", default: "1" }, events: { type: "string", default: "400" } },
});
const count = Number(values.events);
const real = parseEventLog(gcpCcel()).events;
const bootLoaderStage = real.filter((event) => event.mrIndex >= 2);

function synthetic(shapes: readonly TdEvent[], prefix: readonly TdEvent[]): TdEvent[] {
  return Array.from({ length: count }, (_, index) => {
    const shape = (
      index < prefix.length ? prefix[index] : shapes[(index - prefix.length) % shapes.length]
    ) as TdEvent;
    const opaque = dataDigest(shape.eventType, shape.data) === undefined;
    const sha384 = opaque ? createHash("sha384").update(`event ${index}`).digest() : shape.sha384;
    return { ...shape, index, sha384 };
  });
}

/** CPU milliseconds per call (user + system of this process). */
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

function scenario(name: string, events: TdEvent[]): [string, number] {
  const log = buildEventLog(events);
  const base64 = log.toString("base64");
  const rtmrs = replayRtmrs(events);
  const check = verifyEventLog(base64, rtmrs);
  if (check.status !== "replayed" || check.events.length !== count) {
    throw new Error(`${name}: the synthetic log does not replay: ${JSON.stringify(check.errors)}`);
  }
  return [`${name} (${log.length} bytes)`, cpuMsPerCall(() => verifyEventLog(base64, rtmrs))];
}

const extendInput = Buffer.alloc(96, 1);
const results: [string, number][] = [
  scenario("typical", synthetic(bootLoaderStage, real)),
  scenario("worst case", synthetic(real, [])),
  [
    `floor: ${count} SHA-384 extends alone`,
    cpuMsPerCall(() => {
      for (let i = 0; i < count; i++) hash("sha384", extendInput, "buffer");
    }),
  ],
];
console.log(`Node ${process.version}, ${count}-event logs, CPU ms per bundle of one core:`);
for (const [name, ms] of results) console.log(`  ${name.padEnd(40)} ${ms.toFixed(3)} ms`);
console.log(`target <= 1 ms per bundle (typical): ${(results[0]?.[1] ?? Infinity) <= 1 ? "met" : "MISSED"}`);
