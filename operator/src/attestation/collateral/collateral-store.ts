/**
 * Collateral persisted in a directory (`--collateral-cache-dir`, an emptyDir or PVC), so a restarted controller
 * appraises from what it fetched before instead of asking Intel and AMD again. One entry per item:
 * `<sha256(kind, key)>.bin` holds the bytes as served, `<same>.json` names the item, when it was fetched and the
 * bytes' digest. Both are written to a temporary file and renamed, the record last, so a crash leaves either the
 * old entry or the new one; an entry whose bytes do not match its record is ignored. Everything read back is
 * verified again like fresh collateral, so the store needs no trust beyond that.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";

export interface StoredItem {
  value: Uint8Array;
  fetchedAt: number;
}

export interface CollateralStore {
  load(kind: string, key: string): Promise<StoredItem | undefined>;
  save(kind: string, key: string, value: Uint8Array, fetchedAt: number): Promise<void>;
}

interface EntryRecord {
  kind: string;
  key: string;
  fetchedAt: string;
  sha256: string;
  bytes: number;
}

const sha256 = (data: Uint8Array | string): string => createHash("sha256").update(data).digest("hex");

export interface DirectoryStoreOptions {
  /** Entries kept; the oldest fetched are removed beyond it (default 4096). */
  maxEntries?: number;
  /** An item larger than this is not persisted (default 4 MiB). */
  maxItemBytes?: number;
}

export function entryName(kind: string, key: string): string {
  return sha256(`${kind}\u0000${key}`);
}

async function writeAtomically(path: string, data: Uint8Array | string): Promise<void> {
  const temporary = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    await writeFile(temporary, data, { mode: 0o600 });
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

function parseRecord(text: string): EntryRecord | undefined {
  try {
    const record = JSON.parse(text) as Partial<EntryRecord>;
    if (
      typeof record.kind !== "string" ||
      typeof record.key !== "string" ||
      typeof record.fetchedAt !== "string" ||
      typeof record.sha256 !== "string" ||
      Number.isNaN(Date.parse(record.fetchedAt))
    )
      return undefined;
    return record as EntryRecord;
  } catch {
    return undefined;
  }
}

export async function createDirectoryStore(
  directory: string,
  options: DirectoryStoreOptions = {},
): Promise<CollateralStore> {
  const maxEntries = options.maxEntries ?? 4096;
  const maxItemBytes = options.maxItemBytes ?? 4 * 1024 * 1024;
  try {
    await mkdir(directory, { recursive: true, mode: 0o700 });
    const probe = join(directory, `.probe-${randomBytes(4).toString("hex")}`);
    await writeFile(probe, "");
    await rm(probe);
  } catch (error) {
    throw new Error(`collateral cache directory ${directory} is not writable: ${(error as Error).message}`, {
      cause: error,
    });
  }

  async function prune(): Promise<void> {
    const records = (await readdir(directory)).filter((name) => name.endsWith(".json"));
    if (records.length <= maxEntries) return;
    const dated = await Promise.all(
      records.map(async (name) => ({ name, at: (await stat(join(directory, name))).mtimeMs })),
    );
    dated.sort((a, b) => a.at - b.at);
    for (const { name } of dated.slice(0, dated.length - maxEntries)) {
      const base = name.slice(0, -".json".length);
      await rm(join(directory, name), { force: true });
      await rm(join(directory, `${base}.bin`), { force: true });
    }
  }

  return {
    async load(kind, key) {
      const base = join(directory, entryName(kind, key));
      let record: EntryRecord | undefined;
      let value: Buffer;
      try {
        record = parseRecord(await readFile(`${base}.json`, "utf8"));
        value = await readFile(`${base}.bin`);
      } catch {
        return undefined;
      }
      if (record?.kind !== kind || record.key !== key || record.sha256 !== sha256(value)) return undefined;
      return { value: new Uint8Array(value), fetchedAt: Date.parse(record.fetchedAt) };
    },
    async save(kind, key, value, fetchedAt) {
      if (value.length > maxItemBytes) return;
      const base = join(directory, entryName(kind, key));
      const record: EntryRecord = {
        kind,
        key,
        fetchedAt: new Date(fetchedAt).toISOString(),
        sha256: sha256(value),
        bytes: value.length,
      };
      await writeAtomically(`${base}.bin`, value);
      await writeAtomically(`${base}.json`, `${JSON.stringify(record)}\n`);
      await prune();
    },
  };
}
