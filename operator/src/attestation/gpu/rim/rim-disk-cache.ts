/**
 * A RIM cache on disk that survives controller restarts (`--rim-cache-dir`): one file per RIM ID holding the text
 * and its SHA-256. The directory is untrusted storage: whoever can write the volume can change a file, so every
 * entry read back is checked again (the recorded ID, the digest of the text, and `check`, which verifies the
 * signature and signer chain and that the RIM describes that ID) before it is used. A refused entry is reported,
 * fetched again from the inner source and overwritten; a RIM that does not pass `check` is never written.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { MAX_RIM_LENGTH } from "./rim.ts";
import { RIM_ID, type RimSource } from "./rim-source.ts";

interface StoredRim {
  id: string;
  sha256: string;
  rim: string;
}

export interface RimDiskCacheOptions {
  dir: string;
  /** Throws when `text` is not a correctly signed RIM for `id`. */
  check: (id: string, text: string) => void;
  /** An entry on disk was refused (tampered, truncated, another RIM) or could not be written; never fatal. */
  onProblem?: (id: string, message: string) => void;
}

const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");

/** Why the stored entry for `id` cannot be used, or the entry when it passes every check. */
function refusal(id: string, raw: string, check: RimDiskCacheOptions["check"]): string | StoredRim {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (error) {
    return `not JSON (${(error as Error).message})`;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return "not a JSON object";
  const stored = parsed as Partial<StoredRim>;
  if (stored.id !== id) return `it is stored for RIM ${JSON.stringify(stored.id)}`;
  if (typeof stored.rim !== "string" || stored.rim.length > MAX_RIM_LENGTH) return "it holds no RIM text";
  if (stored.sha256 !== sha256(stored.rim)) return "the RIM text does not match its recorded SHA-256";
  try {
    check(id, stored.rim);
  } catch (error) {
    return `the RIM does not verify: ${(error as Error).message}`;
  }
  return stored as StoredRim;
}

export function diskCachedRimSource(inner: RimSource, options: RimDiskCacheOptions): RimSource {
  const report = options.onProblem ?? (() => undefined);
  let ready: Promise<unknown> | undefined;

  async function store(id: string, text: string): Promise<void> {
    ready ??= mkdir(options.dir, { recursive: true, mode: 0o700 });
    const file = join(options.dir, `${id}.json`);
    const temporary = `${file}.${randomBytes(6).toString("hex")}.tmp`;
    const entry: StoredRim = { id, sha256: sha256(text), rim: text };
    try {
      await ready;
      await writeFile(temporary, JSON.stringify(entry), { mode: 0o600 });
      await rename(temporary, file);
    } catch (error) {
      await rm(temporary, { force: true }).catch(() => undefined);
      report(id, `cannot write the RIM cache file ${file}: ${(error as Error).message}`);
    }
  }

  return {
    async get(id) {
      // RIM_ID admits only [A-Z0-9_.] after NV_, so the ID is a safe file name.
      if (!RIM_ID.test(id)) return inner.get(id);
      const file = join(options.dir, `${id}.json`);
      let raw: string | undefined;
      try {
        raw = await readFile(file, "utf8");
      } catch {
        raw = undefined;
      }
      if (raw !== undefined) {
        const verdict = refusal(id, raw, options.check);
        if (typeof verdict !== "string") return verdict.rim;
        report(id, `refused the cached RIM in ${file}: ${verdict}; fetching it again`);
      }
      const text = await inner.get(id);
      if (text === undefined) return undefined;
      try {
        options.check(id, text);
      } catch {
        // Returned unstored: the appraisal verifies it and reports why it fails.
        return text;
      }
      await store(id, text);
      return text;
    },
  };
}
