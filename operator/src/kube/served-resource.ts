import type { CustomObjectsApi } from "@kubernetes/client-node";
import { isNotFound } from "./api-error.ts";

/**
 * Whether the API server serves a resource (discovery of its group/version, readable by every authenticated user),
 * remembered for `ttlMs` so that many reconciles ask once. Undefined when discovery failed otherwise than 404.
 */
export class ServedResource {
  readonly #objects: CustomObjectsApi;
  readonly #resource: { group: string; version: string; plural: string };
  readonly #ttlMs: number;
  readonly #now: () => number;
  #cached: { at: number; served: Promise<boolean | undefined> } | undefined;

  constructor(
    objects: CustomObjectsApi,
    resource: { group: string; version: string; plural: string },
    ttlMs = 30_000,
    now: () => number = Date.now,
  ) {
    this.#objects = objects;
    this.#resource = resource;
    this.#ttlMs = ttlMs;
    this.#now = now;
  }

  served(): Promise<boolean | undefined> {
    const now = this.#now();
    if (this.#cached !== undefined && now - this.#cached.at < this.#ttlMs) return this.#cached.served;
    const { group, version, plural } = this.#resource;
    const served = this.#objects.getAPIResources({ group, version }).then(
      (list) => list.resources.some((r) => r.name === plural),
      (error: unknown) => (isNotFound(error) ? false : undefined),
    );
    this.#cached = { at: now, served };
    return served;
  }
}
