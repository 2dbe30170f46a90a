import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const EXPECTED_ERROR_ANNOTATION = "trustgate.io/expected-error";

export interface SampleObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

export interface Sample {
  file: string;
  object: SampleObject;
}

export function loadSamples(relativeDir: string): Sample[] {
  const dir = join(REPO_ROOT, relativeDir);
  return readdirSync(dir)
    .filter((name) => name.endsWith(".yaml"))
    .sort()
    .flatMap((name) =>
      parseAllDocuments(readFileSync(join(dir, name), "utf8")).map((doc) => ({
        file: `${relativeDir}/${name}`,
        object: doc.toJS() as SampleObject,
      })),
    );
}
