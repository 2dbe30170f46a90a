/**
 * A stand-in for the kernel's configfs-tsm report directory, over a real folder: `mkdir` of an entry creates its
 * `provider` and `generation` files, writing `inblob` bumps `generation`, reading `outblob`/`auxblob` makes the
 * report from the current inblob (as the kernel does on first read), and `rmdir` removes the entry with its files.
 */
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { TsmFilesystem } from "../../../../guest/src/providers/tsm-filesystem.ts";

export interface FakeTsmReport {
  outblob: Uint8Array;
  auxblob?: Uint8Array;
}

export interface FakeTsmOptions {
  /** sev_guest, tdx_guest, or another name to test refusal. */
  provider: string;
  makeReport: (inblob: Uint8Array) => Promise<FakeTsmReport>;
  /** Runs before each read of `outblob`: lets a test play a concurrent writer. */
  beforeOutblob?: (entry: string, kernel: FakeConfigfsTsm) => Promise<void>;
  /** Read errors per attribute name (e.g. EIO on outblob). */
  readErrors?: Record<string, NodeJS.ErrnoException>;
}

export class FakeConfigfsTsm implements TsmFilesystem {
  readonly root: string;
  readonly #options: FakeTsmOptions;
  readonly entriesMade: string[] = [];

  constructor(root: string, options: FakeTsmOptions) {
    this.root = root;
    this.#options = options;
  }

  async mkdir(path: string): Promise<void> {
    await mkdir(path); // fails with ENOENT when the root is missing, like configfs without the TSM driver
    this.entriesMade.push(basename(path));
    await writeFile(join(path, "provider"), `${this.#options.provider}\n`);
    await writeFile(join(path, "generation"), "0\n");
  }

  async rmdir(path: string): Promise<void> {
    await rm(path, { recursive: true });
  }

  async writeFile(path: string, data: Uint8Array): Promise<void> {
    if (basename(path) !== "inblob") throw Object.assign(new Error(`EACCES: ${path}`), { code: "EACCES" });
    if (data.length > 64)
      throw Object.assign(new Error("EINVAL: inblob takes at most 64 bytes"), { code: "EINVAL" });
    await writeFile(path, data);
    await this.bumpGeneration(dirname(path));
  }

  async readFile(path: string): Promise<Uint8Array> {
    const entry = dirname(path);
    const name = basename(path);
    const error = this.#options.readErrors?.[name];
    if (error !== undefined) throw error;
    if (name === "outblob") await this.#options.beforeOutblob?.(entry, this);
    if (name === "outblob" || name === "auxblob") {
      const report = await this.#options.makeReport(new Uint8Array(await readFile(join(entry, "inblob"))));
      return name === "outblob" ? report.outblob : (report.auxblob ?? new Uint8Array());
    }
    return new Uint8Array(await readFile(path));
  }

  /** What another process writing this entry's inblob would do. */
  async bumpGeneration(entry: string): Promise<void> {
    const generation = Number.parseInt(await readFile(join(entry, "generation"), "utf8"), 10);
    await writeFile(join(entry, "generation"), `${generation + 1}\n`);
  }
}
