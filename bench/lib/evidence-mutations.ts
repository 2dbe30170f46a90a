/**
 * Mutations of an evidence bundle (docs/evidence-bundle.md) for the evidence fuzz (bench/chaos-evidence.ts), and the
 * bundle's signed content, to tell a mutation that changed signed bytes from one that changed only their encoding or
 * an unsigned field. Each mutation draws from its own PRNG seeded from (run seed, index), so any one replays alone.
 */

/** mulberry32: a small, fast, seedable 32-bit PRNG (not for secrets). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** The PRNG of mutation `index` of a run seeded with `seed`. */
export function mutationRandom(seed: number, index: number): () => number {
  return seededRandom(Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35));
}

export class Draw {
  readonly next: () => number;
  constructor(next: () => number) {
    this.next = next;
  }
  int(below: number): number {
    return Math.floor(this.next() * below);
  }
  pick<T>(items: readonly T[]): T {
    const item = items[this.int(items.length)];
    if (item === undefined) throw new Error("pick from an empty list");
    return item;
  }
  bytes(length: number): Buffer {
    return Buffer.from(Array.from({ length }, () => this.int(256)));
  }
}

/** How a field's string holds its bytes. */
export type Encoding = "base64" | "pem" | "hex" | "text";

/** The string fields of a bundle the fuzz mutates, with their encodings (dotted paths; gpus[i] per device). */
export const FIELD_ENCODINGS: Record<string, Encoding> = {
  nonce: "hex",
  "tee.type": "text",
  "tee.quote": "base64",
  "tee.report": "base64",
  "tee.eventLog": "base64",
  "tee.vcek": "pem",
  "tee.vlek": "pem",
  "tee.certChain": "pem",
  "tee.collateral.pckCrlIssuerChain": "pem",
  "tee.collateral.rootCaCrl": "base64",
  "tee.collateral.pckCrl": "base64",
  "tee.collateral.tcbInfoIssuerChain": "pem",
  "tee.collateral.tcbInfo": "text",
  "tee.collateral.tcbInfoSignature": "hex",
  "tee.collateral.qeIdentityIssuerChain": "pem",
  "tee.collateral.qeIdentity": "text",
  "tee.collateral.qeIdentitySignature": "hex",
  "gpus[].arch": "text",
  "gpus[].evidence": "base64",
  "gpus[].certChain": "pem",
  "gpus[].driverVersion": "text",
  "gpus[].vbiosVersion": "text",
};

type Json = Record<string, unknown>;
export type Path = (string | number)[];

export function pathName(path: Path): string {
  return path.map((p, i) => (typeof p === "number" ? "[]" : i === 0 ? p : `.${p}`)).join("");
}

export function getAt(root: unknown, path: Path): unknown {
  let node = root;
  for (const key of path) node = (node as Json | undefined)?.[key as string];
  return node;
}

export function setAt(root: unknown, path: Path, value: unknown): void {
  const parent = getAt(root, path.slice(0, -1));
  const key = path[path.length - 1] as string;
  // A path the donor has and this bundle lacks (a GPU index past its end): nothing to set.
  if (typeof parent !== "object" || parent === null) return;
  if (value !== undefined) (parent as Json)[key] = value;
  else if (Array.isArray(parent)) parent.splice(Number(key), 1);
  else Reflect.deleteProperty(parent, key);
}

/** The mutable string fields present in a bundle. */
export function stringFields(bundle: unknown): Path[] {
  const found: Path[] = [];
  const gpus = (bundle as { gpus?: unknown[] }).gpus ?? [];
  for (const name of Object.keys(FIELD_ENCODINGS)) {
    const parts = name.split(".");
    const paths: Path[] = name.startsWith("gpus[]")
      ? gpus.map((_, i) => ["gpus", i, ...parts.slice(1)])
      : [parts];
    for (const path of paths) if (typeof getAt(bundle, path) === "string") found.push(path);
  }
  return found;
}

export const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

function decode(text: string, encoding: Encoding): Buffer {
  if (encoding === "base64") return Buffer.from(text, "base64");
  if (encoding === "hex") return Buffer.from(text, "hex");
  return Buffer.from(text, "utf8");
}

function encode(bytes: Buffer, encoding: Encoding): string {
  if (encoding === "base64") return bytes.toString("base64");
  if (encoding === "hex") return bytes.toString("hex");
  return bytes.toString("utf8");
}

function pemBlock(label: string, der: Buffer): string {
  const lines = der.toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----`;
}

/** A byte-level mutation of `bytes`: what it did, and the result (never equal to the input). */
function mutateBytes(bytes: Buffer, draw: Draw): { kind: string; bytes: Buffer } {
  const length = bytes.length;
  const at = draw.int(Math.max(length, 1));
  const span = () => 1 + draw.int(Math.min(64, Math.max(length, 1)));
  const kinds = [
    "bitflip",
    "bitflip",
    "bitflip",
    "byte",
    "byte",
    "bytes",
    "truncate",
    "extend",
    "insert",
    "delete",
    "swap",
  ];
  const kind = length === 0 ? "extend" : draw.pick(kinds);
  const out = Buffer.from(bytes);
  switch (kind) {
    case "bitflip":
      out[at] = (out[at] ?? 0) ^ (1 << draw.int(8));
      return { kind: `${kind}@${String(at)}`, bytes: out };
    case "byte":
      out[at] = ((out[at] ?? 0) + 1 + draw.int(255)) & 0xff;
      return { kind: `${kind}@${String(at)}`, bytes: out };
    case "bytes": {
      const edits = 2 + draw.int(7);
      for (let i = 0; i < edits; i++) out[draw.int(length)] = draw.int(256);
      return { kind: `bytes×${String(edits)}`, bytes: out };
    }
    case "truncate":
      return { kind: `truncate@${String(at)}`, bytes: out.subarray(0, at) };
    case "extend":
      return { kind: "extend", bytes: Buffer.concat([out, draw.bytes(span())]) };
    case "insert":
      return {
        kind: `insert@${String(at)}`,
        bytes: Buffer.concat([out.subarray(0, at), draw.bytes(span()), out.subarray(at)]),
      };
    case "delete":
      return {
        kind: `delete@${String(at)}`,
        bytes: Buffer.concat([out.subarray(0, at), out.subarray(at + span())]),
      };
    default: {
      const size = Math.min(span(), Math.floor(length / 2));
      const a = draw.int(length - 2 * size + 1);
      const b = a + size + draw.int(length - a - 2 * size + 1);
      const first = Buffer.from(out.subarray(a, a + size));
      out.copy(out, a, b, b + size);
      first.copy(out, b);
      return { kind: `swap@${String(a)},${String(b)}×${String(size)}`, bytes: out };
    }
  }
}

export interface Mutation {
  /** Where: a field path (gpus[] for any device), or "bundle" / "json" for structural and JSON-text mutations. */
  target: string;
  kind: string;
  /** The mutated bundle as JSON text (what `trustgate verify` reads). */
  text: string;
}

function mutateField(bundle: unknown, path: Path, draw: Draw): string {
  const encoding = FIELD_ENCODINGS[pathName(path)] ?? "text";
  const value = getAt(bundle, path) as string;
  // One in six: mutate the encoded text itself (base64 alphabet, whitespace, PEM armour), not the decoded bytes.
  if (encoding === "text" || draw.int(6) === 0) {
    const { kind, bytes } = mutateBytes(Buffer.from(value, "utf8"), draw);
    setAt(bundle, path, bytes.toString("utf8"));
    return `text ${kind}`;
  }
  if (encoding !== "pem") {
    const { kind, bytes } = mutateBytes(decode(value, encoding), draw);
    setAt(bundle, path, encode(bytes, encoding));
    return kind;
  }
  const blocks = [...value.matchAll(PEM_BLOCK)];
  const chosen = draw.int(Math.max(blocks.length, 1));
  const block = blocks[chosen];
  if (block === undefined) {
    const { kind, bytes } = mutateBytes(Buffer.from(value, "utf8"), draw);
    setAt(bundle, path, bytes.toString("utf8"));
    return `text ${kind}`;
  }
  const label = block[1] ?? "CERTIFICATE";
  const { kind, bytes } = mutateBytes(Buffer.from(block[2] ?? "", "base64"), draw);
  const start = block.index;
  setAt(bundle, path, value.slice(0, start) + pemBlock(label, bytes) + value.slice(start + block[0].length));
  return `cert ${String(chosen)} ${kind}`;
}

const ODD_VALUES: unknown[] = [
  null,
  0,
  -1,
  1e308,
  true,
  "",
  "x",
  [],
  {},
  [1, 2],
  { type: "tdx" },
  "A".repeat(70_000),
];

/** Structural mutations: remove, retype, swap, duplicate, reorder or splice fields (another bundle is the donor). */
function mutateStructure(bundle: Json, donor: Json, draw: Draw): string {
  const fields = stringFields(bundle);
  const field = draw.pick(fields);
  const gpus = bundle.gpus as unknown[] | undefined;
  const kinds = ["delete", "retype", "swap", "splice", "unknown-key", "tee-retype"];
  if (gpus !== undefined && gpus.length > 0) kinds.push("gpu-duplicate", "gpu-drop", "gpu-reorder");
  const kind = draw.pick(kinds);
  switch (kind) {
    case "delete":
      setAt(bundle, field, undefined);
      return `delete ${pathName(field)}`;
    case "retype":
      setAt(bundle, field, draw.pick(ODD_VALUES));
      return `retype ${pathName(field)}`;
    case "swap": {
      const other = draw.pick(fields);
      const [a, b] = [getAt(bundle, field), getAt(bundle, other)];
      setAt(bundle, field, b);
      setAt(bundle, other, a);
      return `swap ${pathName(field)}<->${pathName(other)}`;
    }
    case "splice": {
      const from = draw.pick(stringFields(donor));
      setAt(bundle, from.length === field.length ? from : field, getAt(donor, from));
      return `splice ${pathName(from)} from another bundle`;
    }
    case "unknown-key":
      (getAt(bundle, field.slice(0, -1)) as Json)[`x${String(draw.int(1000))}`] = draw.pick(ODD_VALUES);
      return "unknown-key";
    case "tee-retype":
      (bundle.tee as Json).type = draw.pick(["tdx", "snp", "sgx", "TDX", ""]);
      return "tee-retype";
    case "gpu-duplicate":
      gpus?.push(structuredClone(draw.pick(gpus)));
      return kind;
    case "gpu-drop":
      gpus?.splice(draw.int(gpus.length), 1);
      return kind;
    default:
      gpus?.reverse();
      return kind;
  }
}

/** One mutation of `bundle` (not changed in place); `donor` supplies spliced fields. Never returns the input text. */
export function mutateBundle(bundle: unknown, donor: unknown, draw: Draw): Mutation {
  const original = JSON.stringify(bundle);
  for (;;) {
    const copy = structuredClone(bundle) as Json;
    const roll = draw.int(20);
    let mutation: Mutation;
    if (roll < 2) {
      const { kind, bytes } = mutateBytes(Buffer.from(original, "utf8"), draw);
      mutation = { target: "json", kind, text: bytes.toString("utf8") };
    } else if (roll < 5) {
      const kind = mutateStructure(copy, structuredClone(donor) as Json, draw);
      mutation = { target: "bundle", kind, text: JSON.stringify(copy) };
    } else {
      const field = draw.pick(stringFields(copy));
      const kind = mutateField(copy, field, draw);
      mutation = { target: pathName(field), kind, text: JSON.stringify(copy) };
    }
    if (mutation.text !== original) return mutation;
  }
}
