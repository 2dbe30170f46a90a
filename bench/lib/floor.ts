/**
 * The one floor shared by every verify benchmark (TDX, SNP, GPU), and the interleaved measurement against it.
 *
 * Floor: raw `crypto.verify` of exactly the signatures one piece of evidence carries (same signed bytes, same
 * keys), each key a KeyObject prepared once and each signature already DER-encoded, which is the fastest way this
 * Node verifies and the encoding every verifier passes. A TDX quote has two (quote signature by the attestation
 * key, QE report signature by the PCK key), an SNP report and a GPU's SPDM response one each. Nothing of the
 * verifier's own work (parsing, key import, encoding, chains, policy) is in the floor.
 *
 * Rates are per CPU-second of this process (user + system): what one core delivers even when other work shares
 * the machine. Floor and subject alternate in short windows (the order flipping each round) and the ratio is
 * taken per round, so load from elsewhere hits both alike; the printed figures are medians over the rounds.
 */
import { verify, type KeyObject } from "node:crypto";
import { loadavg } from "node:os";
import { p1363ToDer } from "../../operator/src/crypto/ecdsa-signature.ts";

export interface EvidenceSignature {
  hash: "sha256" | "sha384";
  data: Uint8Array;
  key: KeyObject;
  /** r‖s as the evidence carries it. */
  signature: Uint8Array;
}

/** One floor operation: verify every signature of one piece of evidence. Throws if one does not verify. */
export function floorOperation(signatures: readonly EvidenceSignature[]): () => void {
  const prepared = signatures.map((s) => ({ ...s, der: p1363ToDer(s.signature) }));
  for (const s of prepared) {
    if (!verify(s.hash, s.data, s.key, s.der)) throw new Error("a floor signature does not verify");
  }
  return () => {
    for (const s of prepared) verify(s.hash, s.data, s.key, s.der);
  };
}

/** Operations per CPU-second of `work` over a window of `windowMs` wall time. */
export async function cpuRate(work: () => unknown, windowMs: number): Promise<number> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  let count = 0;
  while (performance.now() - started < windowMs) {
    for (let i = 0; i < 8; i++) {
      const result = work();
      if (result instanceof Promise) await result;
    }
    count += 8;
  }
  const used = process.cpuUsage(cpu);
  return (count * 1e6) / (used.user + used.system);
}

export const median = (numbers: readonly number[]): number =>
  [...numbers].sort((a, b) => a - b)[Math.floor(numbers.length / 2)] ?? Number.NaN;

export interface AgainstFloor {
  /** Median floor rate, evidence per CPU-second. */
  floor: number;
  /** Median rate of each subject, evidence per CPU-second. */
  subjects: number[];
  /** Median over rounds of subject / floor, each round's own floor. */
  ratios: number[];
}

/** Interleaves the floor and each subject for `rounds` rounds of `windowMs` windows. */
export async function measureAgainstFloor(
  floor: () => unknown,
  subjects: readonly (() => unknown)[],
  rounds: number,
  windowMs: number,
): Promise<AgainstFloor> {
  const floors: number[] = [];
  const rates = subjects.map(() => [] as number[]);
  const ratios = subjects.map(() => [] as number[]);
  for (let round = 0; round < rounds; round++) {
    const subjectRates: number[] = [];
    if (round % 2 === 1) for (const subject of subjects) subjectRates.push(await cpuRate(subject, windowMs));
    const floorRate = await cpuRate(floor, windowMs);
    if (round % 2 === 0) for (const subject of subjects) subjectRates.push(await cpuRate(subject, windowMs));
    floors.push(floorRate);
    for (const [index, perSecond] of subjectRates.entries()) {
      rates[index]?.push(perSecond);
      ratios[index]?.push(perSecond / floorRate);
    }
  }
  return { floor: median(floors), subjects: rates.map(median), ratios: ratios.map(median) };
}

/** A one-line statement of the conditions for every printed result. */
export function conditions(rounds: number, windowMs: number): string {
  const [one, five] = loadavg();
  return (
    `node ${process.version} (OpenSSL ${process.versions.openssl}), ${rounds} interleaved rounds of ` +
    `${windowMs / 1000} s windows, per CPU-second of one core (medians); load average ${one?.toFixed(2)} / ${five?.toFixed(2)}`
  );
}
