import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import type { ConfidentialVM } from "../../src/api/v1alpha1/generated/types.ts";
import { mergePatch } from "../../src/kube/merge-patch.ts";
import { waitUntil } from "./apply.ts";

/**
 * Rounds of attestation for one CVM on demand: `rechallenge` changes the policy's resultTtl, which makes the
 * controller challenge its CVMs again at once (no waiting for reattestInterval); `nextChallenge` also waits for the
 * new nonce; `appraised` waits until the controller has appraised the answer to `nonce`. `admin` is read at each
 * call, so a suite can make the rounds before its `before` hook has a kubeconfig.
 */
export function challengeRounds(
  admin: () => KubeConfig,
  policy: string,
  read: () => Promise<ConfidentialVM>,
) {
  let round = 0;
  let lastNonce = "";
  async function rechallenge(): Promise<void> {
    round += 1;
    await admin()
      .makeApiClient(CustomObjectsApi)
      .patchClusterCustomObject(
        {
          group: "trustgate.io",
          version: "v1alpha1",
          plural: "attestationpolicies",
          name: policy,
          body: { spec: { freshness: { resultTtl: `${20 + round}m` } } },
        },
        mergePatch,
      );
  }
  async function nextChallenge(): Promise<string> {
    await rechallenge();
    let nonce = "";
    await waitUntil(
      "a new challenge",
      async () => {
        nonce = (await read()).status?.challenge?.nonce ?? "";
        return nonce !== "" && nonce !== lastNonce;
      },
      30_000,
    );
    lastNonce = nonce;
    return nonce;
  }
  async function appraised(nonce: string): Promise<ConfidentialVM> {
    let cvm = await read();
    await waitUntil(
      `the appraisal of ${nonce}`,
      async () => (cvm = await read()).status?.attestation?.nonce === nonce,
      30_000,
    );
    return cvm;
  }
  /** The nonce the last `nextChallenge` returned: the open challenge. */
  const lastChallenge = (): string => lastNonce;
  return { rechallenge, nextChallenge, appraised, lastChallenge };
}
