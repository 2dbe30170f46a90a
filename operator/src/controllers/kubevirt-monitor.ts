import { isDeepStrictEqual } from "node:util";
import type { Logger } from "pino";
import type { KubeVirt } from "../kubevirt/generated/types.ts";
import {
  type ClusterCheckResult,
  clusterChecks,
  type KubeVirtApi,
  kubeVirtName,
} from "../kubevirt/preflight.ts";
import { readKubeVirt } from "../kubevirt/read-kubevirt.ts";
import type { WatchState } from "../runtime/informer.ts";

interface KubeVirtWatch {
  path: string;
  state(): WatchState;
}

/**
 * The KubeVirt API as the controller sees it, from the states of its KubeVirt watches (VirtualMachines,
 * VirtualMachineInstances, KubeVirt CRs) and the cached KubeVirt CRs; logs once per change: one error when KubeVirt
 * is not installed (host validation goes on without it), a line when it appears, and which cluster-wide checks
 * fail whenever that changes.
 */
export class KubeVirtMonitor {
  readonly #log: Logger;
  readonly #watches: KubeVirtWatch[] = [];
  readonly #kubevirts: () => readonly KubeVirt[];
  #lastState: KubeVirtApi["state"] | undefined;
  /** Since KubeVirt was last seen not installed, it has not been synced (it may go absent → syncing → synced). */
  #installPending = false;
  #lastFailing: Record<string, string> | undefined;

  constructor(log: Logger, kubevirts: () => readonly KubeVirt[]) {
    this.#log = log;
    this.#kubevirts = kubevirts;
  }

  track(watch: KubeVirtWatch): void {
    this.#watches.push(watch);
  }

  /** Absent when any KubeVirt resource is not served, syncing until all are listed. */
  api(): KubeVirtApi {
    const states = this.#watches.map((w) => w.state());
    if (states.includes("absent")) return { state: "absent" };
    if (states.includes("syncing")) return { state: "syncing" };
    const read = this.#kubevirts().map(readKubeVirt);
    const invalid = Object.fromEntries(
      read.filter((r) => r.problems.length > 0).map((r) => [kubeVirtName(r.kubevirt), r.problems]),
    );
    return { state: "synced", kubevirts: read.map((r) => r.kubevirt), invalid };
  }

  checks(): ClusterCheckResult[] {
    return clusterChecks(this.api());
  }

  /** Re-evaluates after a watch state change or a KubeVirt CR event; logs what changed. */
  update(): void {
    const api = this.api();
    if (api.state !== this.#lastState) {
      this.#lastState = api.state;
      if (api.state === "absent") {
        this.#installPending = true;
        const missing = this.#watches.filter((w) => w.state() === "absent").map((w) => w.path);
        this.#log.error(
          { missing },
          "KubeVirt CRDs not installed: VirtualMachines cannot be launched; host validation continues",
        );
      } else if (api.state === "synced" && this.#installPending) {
        this.#installPending = false;
        this.#log.info("KubeVirt CRDs installed: VirtualMachines can be launched once KubeVirt is ready");
      }
    }
    if (api.state !== "synced") {
      this.#lastFailing = undefined;
      return;
    }
    const failing = Object.fromEntries(
      this.checks()
        .filter((c) => !c.ok)
        .map((c) => [c.check, c.message ?? ""]),
    );
    if (isDeepStrictEqual(failing, this.#lastFailing)) return;
    this.#lastFailing = failing;
    if (Object.keys(failing).length === 0) this.#log.info("KubeVirt preflight: every check passes");
    else
      this.#log.warn(
        { failing },
        "KubeVirt preflight: some checks fail (ConfidentialVMs that need them are not launched)",
      );
  }
}
