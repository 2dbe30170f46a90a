/** Strings and bytes compare by content, other objects (anchors, verified chains) by identity. */
type Part = string | Uint8Array | object;
type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

interface Entry {
  parts: readonly Part[];
  outcome: Outcome<unknown>;
}

const objectIds = new WeakMap<object, number>();
let nextObjectId = 0;

function samePart(a: Part, b: Part): boolean {
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
  }
  return a === b;
}

/** Lengths and object identities pick a bucket cheaply; the exact comparison in the bucket decides. */
function fingerprint(namespace: string, parts: readonly Part[]): string {
  let key = namespace;
  for (const part of parts) {
    if (typeof part === "string") key += `|s${part.length}`;
    else if (part instanceof Uint8Array) key += `|b${part.length}`;
    else {
      let id = objectIds.get(part);
      if (id === undefined) objectIds.set(part, (id = nextObjectId++));
      key += `|o${id}`;
    }
  }
  return key;
}

/**
 * Memoizes time-independent work (chain and collateral signature checks, parsing) by the exact content of its
 * inputs. Outcomes are cached, failures included; time checks are never cached, so an entry holds at any `now`.
 * Per-quote signatures must not go through here. A hit costs an exact compare of the inputs, several times
 * cheaper than hashing them; same-length inputs share a bucket and are told apart by that compare.
 */
export class VerificationMemo {
  readonly #buckets = new Map<string, Entry[]>();
  readonly #maxEntries: number;
  #size = 0;

  constructor(maxEntries = 2048) {
    this.#maxEntries = maxEntries;
  }

  /** Returns (or throws) the cached outcome of `compute` for these inputs. */
  get<T>(namespace: string, parts: readonly Part[], compute: () => T): T {
    const key = fingerprint(namespace, parts);
    const bucket = this.#buckets.get(key);
    let entry = bucket?.find((candidate) =>
      candidate.parts.every((part, i) => samePart(part, parts[i] ?? "")),
    );
    if (entry === undefined) {
      let outcome: Outcome<unknown>;
      try {
        outcome = { ok: true, value: compute() };
      } catch (error) {
        outcome = { ok: false, error };
      }
      // Byte inputs are copied: callers may reuse or change their buffers later.
      entry = {
        parts: parts.map((part) => (part instanceof Uint8Array ? Uint8Array.from(part) : part)),
        outcome,
      };
      this.#insert(key, entry);
    }
    if (entry.outcome.ok) return entry.outcome.value as T;
    throw entry.outcome.error;
  }

  #insert(key: string, entry: Entry): void {
    while (this.#size >= this.#maxEntries) {
      const oldest = this.#buckets.entries().next();
      if (oldest.done === true) break;
      this.#buckets.delete(oldest.value[0]);
      this.#size -= oldest.value[1].length;
    }
    const bucket = this.#buckets.get(key);
    if (bucket === undefined) this.#buckets.set(key, [entry]);
    else bucket.push(entry);
    this.#size++;
  }

  get size(): number {
    return this.#size;
  }

  clear(): void {
    this.#buckets.clear();
    this.#size = 0;
  }
}
