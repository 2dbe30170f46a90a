import type { CoreV1Api, RbacAuthorizationV1Api } from "@kubernetes/client-node";
import type { ConfidentialVM } from "../../api/v1alpha1/generated/types.ts";
import { objectKey } from "../../runtime/controller.ts";
import { ensureGuestIdentity, type GuestEndpoint } from "./guest-identity-objects.ts";

/** A deleted cloud-init Secret or ServiceAccount is recreated within this long (or at the next launch). */
export const IDENTITY_RECHECK_MS = 5 * 60_000;

export interface GuestIdentityApi {
  core: CoreV1Api;
  rbac: RbacAuthorizationV1Api;
  endpoint: GuestEndpoint;
}

/**
 * Keeps every CVM's guest identity (ensureGuestIdentity) and remembers, per CVM, what the last check found
 * for a few minutes, so the passes of one handshake do not each read the cloud-init Secret.
 */
export class GuestIdentities {
  readonly #api: GuestIdentityApi;
  readonly #checked = new Map<string, { uid: string; renewAt: number; recheckAt: number }>();

  constructor(api: GuestIdentityApi) {
    this.#api = api;
  }

  /** Ensures the CVM's identity; returns how long until its token is due for renewal. */
  async ensure(cvm: ConfidentialVM, now: Date): Promise<number> {
    const key = objectKey(cvm);
    const uid = cvm.metadata.uid ?? "";
    const known = this.#checked.get(key);
    if (known?.uid === uid && known.recheckAt > now.getTime()) return known.renewAt - now.getTime();
    const { renewAfterMs } = await ensureGuestIdentity(cvm, this.#api, this.#api.endpoint, now);
    const renewAt = now.getTime() + renewAfterMs;
    this.#checked.set(key, {
      uid,
      renewAt,
      recheckAt: Math.min(renewAt, now.getTime() + IDENTITY_RECHECK_MS),
    });
    return renewAfterMs;
  }

  /** Forgets a CVM that is gone. */
  forget(key: string): void {
    this.#checked.delete(key);
  }
}
