import { readFileSync } from "node:fs";

export interface VersionInfo {
  version: string;
  node: string;
  platform: string;
}

function packageVersion(): string {
  // Two layouts: running from source (operator/src) and from the build (dist/operator/src).
  for (const relative of ["../../package.json", "../../../package.json"]) {
    try {
      const parsed = JSON.parse(readFileSync(new URL(relative, import.meta.url), "utf8")) as {
        name?: string;
        version?: string;
      };
      if (parsed.name === "trustgate" && typeof parsed.version === "string") return parsed.version;
    } catch {
      // try the next layout
    }
  }
  return "unknown";
}

export const VERSION = packageVersion();

export function versionInfo(): VersionInfo {
  return { version: VERSION, node: process.version, platform: `${process.platform}/${process.arch}` };
}
