/**
 * The file operations configfs-tsm needs, behind an interface so that tests can stand in for the kernel: in
 * configfs, `mkdir` creates a report entry with its attribute files, writing `inblob` bumps `generation`, the first
 * read of `outblob` makes the report, and `rmdir` removes the entry (its files cannot be unlinked).
 */
import { mkdir, readFile, rmdir, writeFile } from "node:fs/promises";

export interface TsmFilesystem {
  mkdir(path: string): Promise<void>;
  rmdir(path: string): Promise<void>;
  readFile(path: string): Promise<Uint8Array>;
  /** One write(2) of the whole buffer: configfs attributes take a value in a single write. */
  writeFile(path: string, data: Uint8Array): Promise<void>;
}

export const kernelTsmFilesystem: TsmFilesystem = {
  mkdir: async (path) => {
    await mkdir(path, { mode: 0o700 });
  },
  rmdir: (path) => rmdir(path),
  readFile: async (path) => new Uint8Array(await readFile(path)),
  writeFile: (path, data) => writeFile(path, data),
};
