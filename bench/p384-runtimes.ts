/**
 * Raw ECDSA verify rates of this Node's crypto (issue 18 item 4; findings in docs/p384-floor.md): P-256 and P-384
 * through crypto.verify with a KeyObject and DER (the floor of bench/lib/floor.ts), the same with
 * `{ key, dsaEncoding: "ieee-p1363" }`, and WebCrypto subtle.verify (same OpenSSL, run on the libuv pool).
 * The Python side: bench/p384-python.py in a venv with `cryptography`.
 *
 *   node bench/p384-runtimes.ts [--seconds 0.5] [--rounds 5]
 */
import { generateKeyPairSync, sign, verify, webcrypto } from "node:crypto";
import { parseArgs } from "node:util";
import { conditions, cpuRate, median } from "./lib/floor.ts";

const { values } = parseArgs({
  options: { seconds: { type: "string", default: "0.5" }, rounds: { type: "string", default: "5" } },
});
const windowMs = Number(values.seconds) * 1000;
const rounds = Number(values.rounds);

console.log(conditions(rounds, windowMs));
for (const [curve, hash, signedBytes] of [
  ["P-256", "sha256", 632],
  ["P-384", "sha384", 672],
] as const) {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: curve });
  const data = Buffer.alloc(signedBytes, 7);
  const der = sign(hash, data, privateKey);
  const p1363 = sign(hash, data, { key: privateKey, dsaEncoding: "ieee-p1363" });
  const options = { key: publicKey, dsaEncoding: "ieee-p1363" as const };
  const cryptoKey = await webcrypto.subtle.importKey(
    "spki",
    publicKey.export({ type: "spki", format: "der" }),
    { name: "ECDSA", namedCurve: curve },
    false,
    ["verify"],
  );
  const algorithm = { name: "ECDSA", hash: hash === "sha256" ? "SHA-256" : "SHA-384" };
  const ways: [string, () => unknown][] = [
    ["crypto.verify, KeyObject, DER", () => verify(hash, data, publicKey, der)],
    ["crypto.verify, { key, dsaEncoding: ieee-p1363 }", () => verify(hash, data, options, p1363)],
    ["WebCrypto subtle.verify (r‖s)", () => webcrypto.subtle.verify(algorithm, cryptoKey, p1363, data)],
  ];
  for (const [, run] of ways) {
    if (!(await run())) throw new Error(`${curve}: a verify failed`);
  }
  const rates = ways.map(() => [] as number[]);
  for (let round = 0; round < rounds; round++) {
    for (const [index, [, run]] of ways.entries()) rates[index]?.push(await cpuRate(run, windowMs));
  }
  for (const [index, [name]] of ways.entries()) {
    const perSecond = Math.round(median(rates[index] ?? [])).toLocaleString("en-US");
    console.log(`${curve} ${name.padEnd(50)}${perSecond.padStart(8)} verifies per CPU-second`);
  }
}
