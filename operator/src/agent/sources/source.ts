import type { HostRoot } from "../host-root.ts";
import type { CcModeProvider } from "./cc-mode/provider.ts";

/** What every source may use. Sources read the host only through `host`. */
export interface SourceContext {
  host: HostRoot;
  /** Asked in order for each GPU's CC mode; the first answer wins. */
  ccModeProviders: readonly CcModeProvider[];
}

/**
 * One source's findings: typed facts for the status fields it owns, extra `details` for
 * status.tee.details, and problems (sentences naming what was wrong or could not be told).
 */
export interface SourceOutput<T> {
  facts: T;
  details?: Record<string, string>;
  problems: string[];
}

/** A detection plugin (NFD's FeatureSource, in small). */
export interface Source<T> {
  readonly name: string;
  scan(context: SourceContext): Promise<SourceOutput<T>>;
}

/** Sources by name; registering a name twice is a programming error. */
export class SourceRegistry {
  readonly #sources = new Map<string, Source<unknown>>();

  register<T>(source: Source<T>): this {
    if (this.#sources.has(source.name)) throw new Error(`source "${source.name}" is already registered`);
    this.#sources.set(source.name, source);
    return this;
  }

  get sources(): readonly Source<unknown>[] {
    return [...this.#sources.values()];
  }
}

/** Outputs by source name; a source that threw has no output and one problem under its name. */
export interface SourceResults {
  outputs: Map<string, SourceOutput<unknown>>;
  failures: Map<string, string>;
}

export async function runSources(registry: SourceRegistry, context: SourceContext): Promise<SourceResults> {
  const results: SourceResults = { outputs: new Map(), failures: new Map() };
  await Promise.all(
    registry.sources.map(async (source) => {
      try {
        results.outputs.set(source.name, await source.scan(context));
      } catch (error) {
        results.failures.set(source.name, `source ${source.name} failed: ${(error as Error).message}`);
      }
    }),
  );
  return results;
}

/** The typed output of a registered source. */
export function outputOf<T>(results: SourceResults, source: Source<T>): SourceOutput<T> | undefined {
  return results.outputs.get(source.name) as SourceOutput<T> | undefined;
}
