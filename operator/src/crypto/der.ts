/**
 * A strict DER reader (X.690 distinguished encoding) for the structures verifiers only read: certificates, OCSP
 * responses, certificate extensions. It decodes tag-length-value triples without building an object tree, so a
 * certificate costs a few slices instead of asn1js' schema walk. Strict: definite lengths in their shortest form,
 * low-tag-number identifiers only, nothing after the outermost value. Every failure is a DerError naming what and
 * where; callers turn it into their own error code.
 */

export class DerError extends Error {
  override name = "DerError";
}

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  ENUMERATED: 0x0a,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** Context-specific tag [n]: constructed (EXPLICIT, or IMPLICIT of a constructed type) or primitive. */
export function contextTag(n: number, constructed: boolean): number {
  return 0x80 | (constructed ? 0x20 : 0) | n;
}

/** One TLV: `tag` is the identifier octet; `content` its value; `der` the whole encoding. */
export interface DerNode {
  tag: number;
  content: Uint8Array;
  der: Uint8Array;
}

/** The TLV at `offset` of `bytes`; its end is `offset + node.der.length`. */
export function readTlv(bytes: Uint8Array, offset: number, what: string): DerNode {
  const tag = bytes[offset];
  if (tag === undefined) throw new DerError(`${what}: no value at byte ${offset}`);
  if ((tag & 0x1f) === 0x1f)
    throw new DerError(`${what}: high tag numbers are not used here (byte ${offset})`);
  const first = bytes[offset + 1];
  if (first === undefined) throw new DerError(`${what}: truncated length at byte ${offset + 1}`);
  let length: number;
  let header = 2;
  if (first < 0x80) {
    length = first;
  } else {
    const count = first & 0x7f;
    if (count === 0) throw new DerError(`${what}: indefinite length is not DER (byte ${offset + 1})`);
    if (count > 4) throw new DerError(`${what}: length of ${count} bytes is too large (byte ${offset + 1})`);
    length = 0;
    for (let i = 0; i < count; i++) {
      const b = bytes[offset + 2 + i];
      if (b === undefined) throw new DerError(`${what}: truncated length at byte ${offset + 2 + i}`);
      if (i === 0 && b === 0) throw new DerError(`${what}: length has a leading zero (byte ${offset + 2})`);
      length = length * 256 + b;
    }
    if (length < 0x80) throw new DerError(`${what}: length ${length} is not in its shortest form`);
    header += count;
  }
  const end = offset + header + length;
  if (end > bytes.length)
    throw new DerError(
      `${what}: value of ${length} bytes at byte ${offset} runs past the end (${bytes.length})`,
    );
  return { tag, content: bytes.subarray(offset + header, end), der: bytes.subarray(offset, end) };
}

/** `bytes` is exactly one TLV (nothing before or after it). */
export function readDer(bytes: Uint8Array, what: string): DerNode {
  const node = readTlv(bytes, 0, what);
  if (node.der.length !== bytes.length)
    throw new DerError(`${what}: ${bytes.length - node.der.length} bytes follow the value`);
  return node;
}

/** The TLVs inside a constructed value, in order, consuming its content exactly. */
export function children(node: DerNode, what: string): DerNode[] {
  if ((node.tag & 0x20) === 0)
    throw new DerError(`${what}: not a constructed value (tag 0x${hex8(node.tag)})`);
  const out: DerNode[] = [];
  for (let offset = 0; offset < node.content.length; ) {
    const child = readTlv(node.content, offset, what);
    out.push(child);
    offset += child.der.length;
  }
  return out;
}

function hex8(n: number): string {
  return n.toString(16).padStart(2, "0");
}

export function expectTag(node: DerNode | undefined, tag: number, what: string): DerNode {
  if (node === undefined) throw new DerError(`${what} is missing`);
  if (node.tag !== tag) throw new DerError(`${what}: expected tag 0x${hex8(tag)}, found 0x${hex8(node.tag)}`);
  return node;
}

/** The children of a SEQUENCE (or SET with `tag`). */
export function sequence(node: DerNode | undefined, what: string, tag: number = TAG.SEQUENCE): DerNode[] {
  return children(expectTag(node, tag, what), what);
}

/** The single value inside an EXPLICIT [n] wrapper. */
export function explicit(node: DerNode, what: string): DerNode {
  const inner = children(node, what);
  if (inner.length !== 1 || inner[0] === undefined)
    throw new DerError(`${what}: an explicit tag holds ${inner.length} values, not 1`);
  return inner[0];
}

export function oid(node: DerNode | undefined, what: string): string {
  const { content } = expectTag(node, TAG.OID, what);
  if (content.length === 0) throw new DerError(`${what}: empty OBJECT IDENTIFIER`);
  const arcs: number[] = [];
  let value = 0;
  for (let i = 0; i < content.length; i++) {
    const b = content[i] ?? 0;
    if (value === 0 && b === 0x80) throw new DerError(`${what}: OBJECT IDENTIFIER arc has a leading 0x80`);
    value = value * 128 + (b & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER) throw new DerError(`${what}: OBJECT IDENTIFIER arc too large`);
    if ((b & 0x80) === 0) {
      arcs.push(value);
      value = 0;
    } else if (i === content.length - 1) {
      throw new DerError(`${what}: OBJECT IDENTIFIER ends inside an arc`);
    }
  }
  const first = arcs[0] ?? 0;
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...arcs.slice(1)].join(".");
}

export function boolean(node: DerNode | undefined, what: string): boolean {
  const { content } = expectTag(node, TAG.BOOLEAN, what);
  if (content.length !== 1 || (content[0] !== 0 && content[0] !== 0xff))
    throw new DerError(`${what}: a DER BOOLEAN is one byte, 0x00 or 0xff`);
  return content[0] === 0xff;
}

/** The two's-complement content bytes of an INTEGER (or ENUMERATED with `tag`), checked minimal. */
export function integerBytes(node: DerNode | undefined, what: string, tag: number = TAG.INTEGER): Uint8Array {
  const { content } = expectTag(node, tag, what);
  if (content.length === 0) throw new DerError(`${what}: empty INTEGER`);
  const [a = 0, b = 0] = content;
  if (content.length > 1 && ((a === 0 && (b & 0x80) === 0) || (a === 0xff && (b & 0x80) !== 0)))
    throw new DerError(`${what}: INTEGER is not in its shortest form`);
  return content;
}

/** A non-negative INTEGER (or ENUMERATED) that fits a safe JavaScript number. */
export function smallInteger(node: DerNode | undefined, what: string, tag: number = TAG.INTEGER): number {
  const bytes = integerBytes(node, what, tag);
  if (((bytes[0] ?? 0) & 0x80) !== 0) throw new DerError(`${what}: negative INTEGER`);
  if (bytes.length > 7) throw new DerError(`${what}: INTEGER too large`);
  let n = 0;
  for (const b of bytes) n = n * 256 + b;
  if (!Number.isSafeInteger(n)) throw new DerError(`${what}: INTEGER too large`);
  return n;
}

export function octetString(node: DerNode | undefined, what: string): Uint8Array {
  return expectTag(node, TAG.OCTET_STRING, what).content;
}

/** A BIT STRING's bits (the unused-bits count is returned apart; DER zeroes the unused bits). */
export function bitString(node: DerNode | undefined, what: string): { bits: Uint8Array; unusedBits: number } {
  const { content } = expectTag(node, TAG.BIT_STRING, what);
  const unusedBits = content[0];
  if (unusedBits === undefined || unusedBits > 7)
    throw new DerError(`${what}: bad BIT STRING unused-bits count`);
  const bits = content.subarray(1);
  if (bits.length === 0 && unusedBits !== 0) throw new DerError(`${what}: empty BIT STRING with unused bits`);
  const last = bits[bits.length - 1] ?? 0;
  if ((last & ((1 << unusedBits) - 1)) !== 0)
    throw new DerError(`${what}: BIT STRING unused bits are not zero`);
  return { bits, unusedBits };
}

export function ia5String(node: DerNode | undefined, what: string): string {
  const { content } = expectTag(node, TAG.IA5_STRING, what);
  for (const b of content) if (b > 0x7f) throw new DerError(`${what}: IA5String holds a byte above 0x7f`);
  return Buffer.from(content).toString("latin1");
}

const DIGITS = /^\d+$/;

/** UTCTime (YYMMDDHHMMSSZ, years 1950–2049) or GeneralizedTime (YYYYMMDDHHMMSS[.f]Z), as DER requires. */
export function time(node: DerNode | undefined, what: string): Date {
  if (node === undefined) throw new DerError(`${what} is missing`);
  const text = Buffer.from(node.content).toString("latin1");
  let year: number;
  let rest: string;
  if (node.tag === TAG.UTC_TIME) {
    if (text.length !== 13 || !text.endsWith("Z") || !DIGITS.test(text.slice(0, 12)))
      throw new DerError(`${what}: UTCTime "${text}" is not YYMMDDHHMMSSZ`);
    const yy = Number(text.slice(0, 2));
    year = yy < 50 ? 2000 + yy : 1900 + yy;
    rest = text.slice(2, 12);
  } else if (node.tag === TAG.GENERALIZED_TIME) {
    const match = /^(\d{4})(\d{10})(\.\d*[1-9])?Z$/.exec(text);
    if (match === null) throw new DerError(`${what}: GeneralizedTime "${text}" is not YYYYMMDDHHMMSS[.f]Z`);
    year = Number(match[1]);
    rest = match[2] ?? "";
    const fraction = match[3] === undefined ? 0 : Math.floor(Number(`0${match[3]}`) * 1000);
    return at(year, rest, fraction, text, what);
  } else {
    throw new DerError(`${what}: expected a UTCTime or GeneralizedTime, found tag 0x${hex8(node.tag)}`);
  }
  return at(year, rest, 0, text, what);
}

function at(year: number, rest: string, ms: number, text: string, what: string): Date {
  const [month, day, hour, minute, second] = [0, 2, 4, 6, 8].map((i) => Number(rest.slice(i, i + 2))) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second, ms));
  if (
    month < 1 ||
    month > 12 ||
    date.getUTCDate() !== day ||
    hour > 23 ||
    minute > 59 ||
    second > 59 ||
    date.getUTCFullYear() !== year
  )
    throw new DerError(`${what}: "${text}" is not a valid time`);
  return date;
}
