import { isDeepStrictEqual } from "node:util";
import type { ConfidentialVM } from "../../api/v1alpha1/generated/types.ts";
import type { VmPlacement } from "../../kubevirt/virtual-machine.ts";
import { objectKey } from "../../runtime/controller.ts";
import { recordedPlacement } from "./lifecycle.ts";
import { placementClaims, type PendingGpus } from "./scheduling.ts";

/**
 * Which GPUs (and NVSwitches, and PPCIe boards) belong to which ConfidentialVM. The truth is each CVM's status (so it
 * survives restarts): the GPUs its host reports allocated to its VM, or, until then, how many of which model it was
 * placed with (a PPCIe board: every device, by address). Placements and allocations written by this process but not
 * yet seen in the cache are kept as reservations, and scheduling runs one CVM at a time, so two CVMs never get the
 * same GPU.
 */
export class GpuLedger {
  readonly #reservations = new Map<string, VmPlacement>();
  /**
   * Each cached CVM version's recorded placement: the cache replaces an object on every change, so its identity is
   * its version, and the ledger is asked on every reconcile about every CVM (1,000s).
   */
  readonly #recorded = new WeakMap<ConfidentialVM, VmPlacement | null>();
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

  #recordedPlacement(cvm: ConfidentialVM): VmPlacement | undefined {
    let placement = this.#recorded.get(cvm);
    if (placement === undefined) {
      placement = recordedPlacement(cvm) ?? null;
      this.#recorded.set(cvm, placement);
    }
    return placement ?? undefined;
  }

  /** Every CVM's placement (this process' reservation first, else its status), by `ns/name`. */
  #placements(cvms: readonly ConfidentialVM[]): Map<string, VmPlacement> {
    const result = new Map<string, VmPlacement>();
    for (const cvm of cvms) {
      const key = objectKey(cvm);
      const placement = this.#reservations.get(key) ?? this.#recordedPlacement(cvm);
      if (placement !== undefined) result.set(key, placement);
    }
    for (const [key, placement] of this.#reservations) if (!result.has(key)) result.set(key, placement);
    return result;
  }

  /**
   * Devices a CVM holds by address (observed GPUs, a board's GPUs and NVSwitches, the board): claim → `ns/name`;
   * with `onNode`, only that node's (all a running VM's allocation is checked against).
   */
  assignments(cvms: readonly ConfidentialVM[], onNode?: string): Map<string, string> {
    const result = new Map<string, string>();
    if (onNode === undefined) {
      for (const [key, placement] of this.#placements(cvms))
        for (const claim of placementClaims(placement)) result.set(claim, key);
      return result;
    }
    // One node's (asked on every reconcile of a running VM): no map of every CVM's placement on the way.
    const reservedSeen = new Set<string>();
    for (const cvm of cvms) {
      const key = objectKey(cvm);
      const reserved = this.#reservations.get(key);
      if (reserved !== undefined) reservedSeen.add(key);
      const placement = reserved ?? this.#recordedPlacement(cvm);
      if (placement?.nodeName !== onNode) continue;
      for (const claim of placementClaims(placement)) result.set(claim, key);
    }
    for (const [key, placement] of this.#reservations) {
      if (reservedSeen.has(key) || placement.nodeName !== onNode) continue;
      for (const claim of placementClaims(placement)) result.set(claim, key);
    }
    return result;
  }

  /**
   * GPUs placed on a node whose PCI address is not known yet (the device plugin picks them when the VM starts), per
   * node and model, leaving out `exceptKey`'s own: counted as taken, whichever they turn out to be.
   */
  pendingGpus(cvms: readonly ConfidentialVM[], exceptKey: string): PendingGpus {
    const result = new Map<string, Map<string, number>>();
    for (const [key, placement] of this.#placements(cvms)) {
      if (key === exceptKey) continue;
      for (const gpu of placement.gpus) {
        if (gpu.pciAddress !== undefined) continue;
        const models = result.get(placement.nodeName) ?? new Map<string, number>();
        models.set(gpu.model, (models.get(gpu.model) ?? 0) + 1);
        result.set(placement.nodeName, models);
      }
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
    if (cvm === undefined || isDeepStrictEqual(recorded, reserved)) this.#reservations.delete(cvmKey);
  }

  release(cvmKey: string): void {
    this.#reservations.delete(cvmKey);
  }
}
