import { lstat, open, readdir, readlink } from "node:fs/promises";
import { basename, join } from "node:path";

/** What reading one host file gave: a value, or why there is none. Reading never throws. */
export type HostRead<T> =
  | { kind: "value"; value: T }
  | { kind: "missing"; path: string }
  | { kind: "unreadable"; path: string; reason: string }
  | { kind: "malformed"; path: string; reason: string };

export type HostFailure = Exclude<HostRead<never>, { kind: "value" }>;

export type ParseResult<T> = { ok: true; value: T } | { ok: false; reason: string };

export type EntryType = "file" | "directory" | "symlink" | "other";

export const DEFAULT_MAX_BYTES = 64 * 1024;

const utf8 = new TextDecoder("utf-8", { fatal: true });

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : error instanceof Error ? error.message : String(error);
}

/** "/sys/x missing", "/sys/x unreadable: EACCES", "/sys/x malformed: expected Y or N" */
export function describeFailure(failure: HostFailure): string {
  if (failure.kind === "missing") return `${failure.path} missing`;
  return `${failure.path} ${failure.kind}: ${failure.reason}`;
}

/**
 * The host's filesystem as the agent sees it: every host path ("/sys/...", "/proc/...") is read
 * under a root (the container's `/host`, or a fixture tree in tests). Paths keep their host spelling
 * so problems name what an admin would look at.
 */
export class HostRoot {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  /** The path under the root for a host path; refuses relative paths and `..` segments. */
  resolve(hostPath: string): string {
    if (!hostPath.startsWith("/") || hostPath.split("/").includes(".."))
      throw new Error(`host path must be absolute without '..': ${hostPath}`);
    return join(this.root, hostPath);
  }

  #failure(hostPath: string, error: unknown): HostFailure {
    const code = errorCode(error);
    if (code === "ENOENT" || code === "ENOTDIR") return { kind: "missing", path: hostPath };
    return { kind: "unreadable", path: hostPath, reason: code };
  }

  /** The file's text, refusing files larger than maxBytes and bytes that are not UTF-8. */
  async readText(hostPath: string, maxBytes = DEFAULT_MAX_BYTES): Promise<HostRead<string>> {
    let handle;
    try {
      handle = await open(this.resolve(hostPath), "r");
    } catch (error) {
      return this.#failure(hostPath, error);
    }
    try {
      // sysfs reports a size of 4096 for every attribute, so read until EOF instead of trusting stat;
      // a page-sized buffer fits any sysfs attribute and keeps each scan's garbage small.
      const buffer = Buffer.allocUnsafe(Math.min(maxBytes + 1, 4096));
      const chunks: Buffer[] = [];
      let total = 0;
      for (;;) {
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
        if (bytesRead === 0) break;
        chunks.push(Buffer.from(buffer.subarray(0, bytesRead)));
        total += bytesRead;
        if (total > maxBytes)
          return { kind: "malformed", path: hostPath, reason: `larger than ${maxBytes} bytes` };
      }
      try {
        return { kind: "value", value: utf8.decode(Buffer.concat(chunks, total)) };
      } catch {
        return { kind: "malformed", path: hostPath, reason: "not UTF-8 text" };
      }
    } catch (error) {
      return this.#failure(hostPath, error);
    } finally {
      await handle.close().catch(() => undefined);
    }
  }

  /** The file's text, trimmed and handed to `parse`; a parse failure is `malformed`. */
  async readValue<T>(
    hostPath: string,
    parse: (text: string) => ParseResult<T>,
    maxBytes = DEFAULT_MAX_BYTES,
  ): Promise<HostRead<T>> {
    const read = await this.readText(hostPath, maxBytes);
    if (read.kind !== "value") return read;
    const parsed = parse(read.value.trim());
    return parsed.ok
      ? { kind: "value", value: parsed.value }
      : { kind: "malformed", path: hostPath, reason: parsed.reason };
  }

  /** The last path segment a symlink points to (sysfs `driver` and `iommu_group` links). */
  async readLinkName(hostPath: string): Promise<HostRead<string>> {
    try {
      return { kind: "value", value: basename(await readlink(this.resolve(hostPath))) };
    } catch (error) {
      const failure = this.#failure(hostPath, error);
      return errorCode(error) === "EINVAL"
        ? { kind: "malformed", path: hostPath, reason: "not a symlink" }
        : failure;
    }
  }

  /** Entry names of a directory, sorted. */
  async list(hostPath: string): Promise<HostRead<string[]>> {
    try {
      return { kind: "value", value: (await readdir(this.resolve(hostPath))).sort() };
    } catch (error) {
      if (errorCode(error) === "ENOTDIR" && (await this.entryType(hostPath)).kind === "value")
        return { kind: "malformed", path: hostPath, reason: "not a directory" };
      return this.#failure(hostPath, error);
    }
  }

  /** What is at a path, without following a final symlink. */
  async entryType(hostPath: string): Promise<HostRead<EntryType>> {
    try {
      const stats = await lstat(this.resolve(hostPath));
      const type: EntryType = stats.isFile()
        ? "file"
        : stats.isDirectory()
          ? "directory"
          : stats.isSymbolicLink()
            ? "symlink"
            : "other";
      return { kind: "value", value: type };
    } catch (error) {
      return this.#failure(hostPath, error);
    }
  }
}
