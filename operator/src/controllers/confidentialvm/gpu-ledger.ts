import type { ConfidentialVM } from "../../api/v1alpha1/generated/types.ts";
import type { VmPlacement } from "../../kubevirt/virtual-machine.ts";
import { objectKey } from "../../runtime/controller.ts";
import { recordedPlacement } from "./lifecycle.ts";
import { placementClaims } from "./scheduling.ts";

/**
 * Which GPUs (and NVSwitches, and PPCIe boards) belong to which ConfidentialVM. The truth is each CVM's status (so it survives restarts);
 * placements written by this process but not yet seen in the cache are kept as reservations, and
 * scheduling runs one CVM at a time, so two CVMs never get the same GPU.
 */
export class GpuLedger {
  readonly #reservations = new Map<string, VmPlacement>();
  #lock: Promise<void> = Promise.resolve();

  /** Runs `fn` with no other scheduling decision in flight. */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const previous = this.#lock;
    let release: () => void = () => undefined;
    this.#lock = new Promise((resolve) => (release = resolve));
    await previous;
    try {
      return await fn();
    } finally {
      release();
    }
  }

  assignments(cvms: readonly ConfidentialVM[]): Map<string, string> {
    const result = new Map<string, string>();
    const seen = new Set<string>();
    for (const cvm of cvms) {
      const key = objectKey(cvm);
      seen.add(key);
      const placement = this.#reservations.get(key) ?? recordedPlacement(cvm);
      if (placement === undefined) continue;
      for (const claim of placementClaims(placement)) result.set(claim, key);
    }
    for (const [key, placement] of this.#reservations) {
      if (seen.has(key)) continue;
      for (const claim of placementClaims(placement)) result.set(claim, key);
    }
    return result;
  }

  reserve(cvmKey: string, placement: VmPlacement): void {
    this.#reservations.set(cvmKey, placement);
  }

  /** Drops a reservation once the cache shows the CVM's own status (or the CVM is gone). */
  settle(cvmKey: string, cvm: ConfidentialVM | undefined): void {
    const reserved = this.#reservations.get(cvmKey);
    if (reserved === undefined) return;
    const recorded = cvm === undefined ? undefined : recordedPlacement(cvm);
    if (cvm === undefined || JSON.stringify(recorded) === JSON.stringify(reserved))
      this.#reservations.delete(cvmKey);
  }

  release(cvmKey: string): void {
    this.#reservations.delete(cvmKey);
  }
}
