// Writes the Events of audit mode, off the admission path: a failed write is logged, never delays or changes
// an admission, and the same refusal is recorded at most once per window (a Deployment's ReplicaSet retries).

import type { CoreV1Api } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { apiErrorStatus } from "../kube/api-error.ts";
import type { AdmissionRequest } from "./admission-review.ts";
import { auditEvent } from "./audit.ts";

export interface AuditEventOptions {
  core: CoreV1Api;
  log: Logger;
  instance: string;
  /** How long one refusal (namespace, object, message) is not recorded again (default 5 min). */
  windowMs?: number;
  now?: () => Date;
}

const MAX_REMEMBERED = 4096;

export class AuditEventRecorder {
  readonly #options: AuditEventOptions;
  readonly #recent = new Map<string, number>();

  constructor(options: AuditEventOptions) {
    this.#options = options;
  }

  /** Records the refusal unless the request is a dry run (the configuration declares NoneOnDryRun). */
  record(request: AdmissionRequest, refusal: string): void {
    if (request.dryRun === true) return;
    const now = (this.#options.now ?? (() => new Date()))();
    const event = auditEvent(request, refusal, now, this.#options.instance);
    const namespace = event.metadata.namespace ?? "default";
    const key = `${namespace}/${event.involvedObject.kind ?? ""}/${event.involvedObject.name ?? ""}/${refusal}`;
    const last = this.#recent.get(key);
    if (last !== undefined && now.getTime() - last < (this.#options.windowMs ?? 300_000)) return;
    if (this.#recent.size >= MAX_REMEMBERED) this.#recent.clear();
    this.#recent.set(key, now.getTime());
    this.#options.core.createNamespacedEvent({ namespace, body: event }).catch((error: unknown) => {
      const status = apiErrorStatus(error);
      this.#options.log.warn(
        {
          namespace,
          code: status?.code,
          reason: status?.reason,
          err: status?.message ?? (error as Error).message,
        },
        "Could not record an audit-mode Event",
      );
    });
  }
}
