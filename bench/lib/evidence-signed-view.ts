/**
 * The signed content of an evidence bundle, field by field, as decoded bytes rather than their encodings, so the
 * fuzz can tell a mutation that changed signed bytes from one that changed only an encoding, padding or an unsigned
 * field. Computed here from the formats, independently of the verifier.
 */
import { createHash } from "node:crypto";
import { SIGNED_LENGTH } from "../../operator/src/attestation/snp/report.ts";
import { claimsReadData } from "../../operator/src/attestation/tdx/event-log/event-types.ts";
import { parseEventLog, type TdEvent } from "../../operator/src/attestation/tdx/event-log/parse.ts";
import { FIELD_ENCODINGS, getAt, PEM_BLOCK } from "./evidence-mutations.ts";

/**
 * The length of a TDX quote as its own header says (v4: 48-byte header, 584-byte body, 4-byte signature data length;
 * v5: body type and size after the header). The bytes after it are padding, not signed. Unknown layouts count as
 * wholly signed.
 */
export function tdxDeclaredLength(quote: Buffer): number {
  if (quote.length < 58) return quote.length;
  const version = quote.readUInt16LE(0);
  let end = quote.length;
  if (version === 4 && quote.length >= 636) end = 636 + quote.readUInt32LE(632);
  if (version === 5) {
    const bodySize = quote.readUInt32LE(50);
    if (quote.length >= 58 + bodySize) end = 58 + bodySize + quote.readUInt32LE(54 + bodySize);
  }
  return Math.min(end, quote.length);
}

/** SEV-SNP: the signed region, then R and S (72 bytes each); the rest of the signature field is reserved. */
export const SNP_SIGNATURE_END = SIGNED_LENGTH + 144;

function tlvHeader(bytes: Buffer, at: number): number {
  const first = bytes[at + 1] ?? 0;
  return first < 0x80 ? 2 : 2 + (first & 0x7f);
}

function tlvEnd(bytes: Buffer, at: number): number | undefined {
  const first = bytes[at + 1];
  if (first === undefined) return undefined;
  if (first < 0x80) return at + 2 + first;
  const octets = first & 0x7f;
  if (octets === 0 || octets > 4 || bytes.length < at + 2 + octets) return undefined;
  return at + 2 + octets + bytes.readUIntBE(at + 2, octets);
}

/**
 * A signed DER object (certificate, CRL: SEQUENCE of to-be-signed, algorithm, BIT STRING signature) as what its
 * signature covers plus the signature bits: not the bytes after its outer TLV, nor the BIT STRING's unused-bits octet
 * (an encoding detail, not signed). Anything else: its bytes.
 */
export function derSignedContent(bytes: Buffer): string {
  const end = bytes[0] === 0x30 ? tlvEnd(bytes, 0) : undefined;
  if (end === undefined || end > bytes.length) return bytes.toString("hex");
  const whole = bytes.subarray(0, end).toString("hex");
  const children: [number, number][] = [];
  for (let at = tlvHeader(bytes, 0); at < end; ) {
    const childEnd = tlvEnd(bytes, at);
    if (childEnd === undefined || childEnd > end) return whole;
    children.push([at, childEnd]);
    at = childEnd;
  }
  const [tbs, algorithm, signature] = children;
  if (children.length !== 3 || tbs === undefined || algorithm === undefined || signature === undefined)
    return whole;
  if (bytes[signature[0]] !== 0x03) return whole;
  const bits = bytes.subarray(signature[0] + tlvHeader(bytes, signature[0]) + 1, signature[1]);
  return `${bytes.subarray(tbs[0], algorithm[1]).toString("hex")}:${bits.toString("hex")}`;
}

export function pemBlocks(text: string): string[] {
  return [...text.matchAll(PEM_BLOCK)].map((m) => m[0]);
}

function pemDer(block: string): string {
  const body = /-----BEGIN [A-Z0-9 ]+-----([\s\S]*?)-----END/.exec(block)?.[1] ?? "";
  return derSignedContent(Buffer.from(body, "base64"));
}

/** Fields no signature covers: the challenge and guest key (bound into REPORTDATA, enforced only with --nonce). */
export const UNSIGNED_KEYS = new Set(["nonce", "publicKey", "tee.type"]);

function canonical(field: string, encoding: string, value: string): string {
  if (field === "tee.quote") {
    const bytes = Buffer.from(value, "base64");
    return bytes.subarray(0, tdxDeclaredLength(bytes)).toString("hex");
  }
  if (field === "tee.eventLog") return eventLogContent(Buffer.from(value, "base64"));
  if (field === "tee.report")
    return Buffer.from(value, "base64").subarray(0, SNP_SIGNATURE_END).toString("hex");
  if (field.endsWith("Crl")) return derSignedContent(Buffer.from(value, "base64"));
  if (encoding === "base64") return Buffer.from(value, "base64").toString("hex");
  if (encoding === "hex") return /^[0-9a-f]*$/i.test(value) ? value.toLowerCase() : `raw:${value}`;
  return value;
}

/**
 * What of a CCEL the signed RTMRs cover and the verdict uses: each record's register and SHA-384 digest (replayed
 * into the RTMRs), and its type and data where the digest is the data's own hash and a claim reads that data (UEFI
 * variables, GRUB's command lines: replay.ts checks the data against the digest exactly there). Not covered: the
 * type and data of events no claim reads (a GPT table, a path name beside a file's hash; the RTMRs extend digests
 * only), the padding after the last record.
 */
function eventLogContent(bytes: Buffer): string {
  let events: TdEvent[];
  try {
    events = parseEventLog(bytes).events;
  } catch {
    return `unparsed:${bytes.toString("hex")}`;
  }
  return JSON.stringify(
    events.map((e) => {
      const digest = Buffer.from(e.sha384).toString("hex");
      const bound =
        claimsReadData(e.eventType, e.data) && createHash("sha384").update(e.data).digest("hex") === digest;
      return [e.mrIndex, digest, bound ? [e.eventType, Buffer.from(e.data).toString("hex")] : "unbound"];
    }),
  );
}

/**
 * One GPU entry's signed content: its SPDM evidence and the certificates of its chain not listed in `optional`
 * (index: a certificate the verifier does not rely on, such as the root it pins anyway).
 */
export function gpuView(entry: unknown, optional: ReadonlySet<number>): string {
  const evidence = (entry as { evidence?: unknown } | null)?.evidence;
  const chain = (entry as { certChain?: unknown } | null)?.certChain;
  const ders = typeof chain === "string" ? pemBlocks(chain).map(pemDer) : [JSON.stringify(chain ?? null)];
  return JSON.stringify([
    typeof evidence === "string" ? Buffer.from(evidence, "base64").toString("hex") : (evidence ?? null),
    ders.filter((_, i) => !optional.has(i)),
  ]);
}

/**
 * The bundle's fields (GPUs apart, see gpuView) as canonical signed content: PEM fields one key per certificate
 * (`tee.vcek#0`), the TDX quote up to its declared length, the SNP report up to the end of R and S, DER without
 * trailing bytes, hex in lower case.
 */
export function fieldViews(document: unknown): Map<string, string> {
  const views = new Map<string, string>();
  for (const [name, encoding] of Object.entries(FIELD_ENCODINGS)) {
    if (name.startsWith("gpus[]")) continue;
    const value = getAt(document, name.split("."));
    if (value === undefined) continue;
    if (typeof value !== "string") views.set(name, `non-string:${JSON.stringify(value)}`);
    else if (encoding === "pem") {
      views.set(name, "present");
      pemBlocks(value).forEach((block, i) => views.set(`${name}#${String(i)}`, pemDer(block)));
    } else views.set(name, canonical(name, encoding, value));
  }
  for (const name of ["publicKey", "gpuSystem", "gpuSystemSignature"]) {
    const value = getAt(document, [name]);
    if (value !== undefined) views.set(name, JSON.stringify(value));
  }
  return views;
}

/**
 * Whether `mutated` differs from `original` (a well-formed signed DER object) only outside what its signature covers
 * and the signature bits: outer header and length, the outer algorithm, the unused-bits octet, bytes appended.
 * A BER-lenient parser (pkijs) still finds the same to-be-signed bytes and signature in such a mutation.
 */
export function changedOnlyOutsideSigned(original: Buffer, mutated: Buffer): boolean {
  const end = original[0] === 0x30 ? tlvEnd(original, 0) : undefined;
  if (end !== original.length || mutated.length < original.length) return false;
  const tbsStart = tlvHeader(original, 0);
  const tbsEnd = tlvEnd(original, tbsStart);
  const algorithmEnd = tbsEnd === undefined ? undefined : tlvEnd(original, tbsEnd);
  if (tbsEnd === undefined || algorithmEnd === undefined || original[algorithmEnd] !== 0x03) return false;
  const bitsStart = algorithmEnd + tlvHeader(original, algorithmEnd) + 1;
  for (let i = 0; i < original.length; i++) {
    if (original[i] === mutated[i]) continue;
    if ((i >= tbsStart && i < tbsEnd) || i >= bitsStart) return false;
  }
  return true;
}

/** The DER bytes behind a field view key: a PEM field's certificate (`name#i`) or a base64 CRL. */
export function derBytes(document: unknown, key: string): Buffer | undefined {
  const [field = "", index] = key.split("#");
  const value = getAt(document, field.split("."));
  if (typeof value !== "string") return undefined;
  if (index === undefined) return field.endsWith("Crl") ? Buffer.from(value, "base64") : undefined;
  const block = pemBlocks(value)[Number(index)];
  const body =
    block === undefined ? undefined : /-----BEGIN [A-Z0-9 ]+-----([\s\S]*?)-----END/.exec(block)?.[1];
  return body === undefined ? undefined : Buffer.from(body, "base64");
}
