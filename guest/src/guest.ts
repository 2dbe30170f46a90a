/**
 * What the guest does with each version of its ConfidentialVM it sees: keep the GPUs' CC ready state where the
 * operator's signed result for its own key says (gpu-ready/), answer a new challenge (fresh key -> reportData -> TEE
 * and GPU evidence -> server-side apply of status.evidence), then open the secrets released to its current key into
 * files.
 */
import type { Logger } from "pino";
import type {
  ConfidentialVM,
  ConfidentialVMStatusReleasedSecret,
} from "../../operator/src/api/v1alpha1/generated/types.ts";
import type { EvidenceBundle } from "../../operator/src/attestation/types.ts";
import { noncePrefix } from "../../operator/src/runtime/logger.ts";
import { AnsweredNonces, decideChallenge, type ChallengeDecision } from "./challenge.ts";
import { collectEvidence, type EvidenceProviders } from "./evidence.ts";
import { newGuestKey, type GuestKey } from "./guest-key.ts";
import { hardwareHints } from "./hardware.ts";
import type { CvmApi } from "./kube/cvm-client.ts";
import type { GpuReadyKeeper } from "./gpu-ready/ready-keeper.ts";
import { checkOwnResult, type OperatorTrust, type OwnAnswer } from "./operator-trust.ts";
import { openReleasedSecret, SealedToAnotherKeyError, writeSecretFiles } from "./secrets.ts";
import type { SelfCheck } from "./self-check.ts";

export interface GuestDeps {
  api: Pick<CvmApi, "applyEvidence">;
  providers: EvidenceProviders;
  secretsDir: string;
  /** The operator's pinned JWKS and this CVM; without it the guest opens no released secret. */
  trust?: OperatorTrust;
  log: Logger;
  selfCheck?: SelfCheck;
  now?: () => Date;
  newKey?: () => Promise<GuestKey>;
  /** Failed attempts at one nonce before the guest waits for the next challenge (default 5). */
  maxAttempts?: number;
  /** Sets the GPUs ready on the operator's verified result (and not ready again); absent: the guest leaves it alone. */
  readiness?: GpuReadyKeeper;
}

export interface HandleResult {
  decision: ChallengeDecision;
  /** Set when the challenge should be answered but answering failed (worth a retry). */
  error?: Error;
  answered?: EvidenceBundle;
}

export class Guest {
  readonly #deps: GuestDeps;
  readonly #answered = new AnsweredNonces();
  readonly #failures = new Map<string, number>();
  /** Released secrets already handled, by name: the JWE last seen. */
  readonly #handledSecrets = new Map<string, string>();
  #key: GuestKey | undefined;
  /** The challenge answered with #key. */
  #keyNonce = "";

  constructor(deps: GuestDeps) {
    this.#deps = deps;
  }

  /** The thumbprint of the key of the last answered challenge. */
  get keyThumbprint(): string | undefined {
    return this.#key?.thumbprint;
  }

  async handle(cvm: ConfidentialVM): Promise<HandleResult> {
    await this.#deps.readiness?.observe(cvm, this.#ownAnswer());
    const now = this.#deps.now?.() ?? new Date();
    let decision = decideChallenge(cvm.status?.challenge, this.#answered.set, now);
    const result: HandleResult = { decision };
    if (decision.action === "answer") {
      const failures = this.#failures.get(decision.nonce) ?? 0;
      if (failures >= (this.#deps.maxAttempts ?? 5)) {
        decision = {
          action: "wait",
          reason: "AlreadyAnswered",
          message: `gave up on nonce ${decision.nonce}`,
        };
        result.decision = decision;
      } else {
        try {
          result.answered = await this.#answer(cvm, decision.nonce);
          this.#failures.delete(decision.nonce);
        } catch (error) {
          this.#failures.set(decision.nonce, failures + 1);
          result.error = error as Error;
          this.#deps.log.error(
            { nonce: noncePrefix(decision.nonce), attempt: failures + 1, err: error },
            "Could not answer the challenge",
          );
        }
      }
    }
    await this.#openSecrets(cvm);
    return result;
  }

  async #answer(cvm: ConfidentialVM, nonce: string): Promise<EvidenceBundle> {
    const { log, providers } = this.#deps;
    const started = performance.now();
    const key = await (this.#deps.newKey ?? newGuestKey)();
    const bundle = await collectEvidence(nonce, key, providers, hardwareHints(cvm));
    await this.#deps.api.applyEvidence(bundle);
    this.#answered.add(nonce);
    this.#key = key;
    this.#keyNonce = nonce;
    log.info(
      {
        nonce: noncePrefix(nonce),
        tee: bundle.tee.type,
        gpus: bundle.gpus?.length ?? 0,
        keyThumbprint: key.thumbprint,
        ms: Math.round(performance.now() - started),
      },
      "Answered the challenge",
    );
    await this.#selfCheck(bundle);
    return bundle;
  }

  #ownAnswer(): OwnAnswer | undefined {
    return this.#key === undefined ? undefined : { key: this.#key, nonce: this.#keyNonce };
  }

  async #selfCheck(bundle: EvidenceBundle): Promise<void> {
    if (this.#deps.selfCheck === undefined) return;
    try {
      const summary = await this.#deps.selfCheck(bundle);
      const level = summary.verdict === "contraindicated" ? "warn" : "info";
      this.#deps.log[level](
        { nonce: noncePrefix(bundle.nonce), selfCheck: summary },
        "Self-check of the submitted evidence",
      );
    } catch (error) {
      this.#deps.log.warn({ err: error }, "Self-check could not run");
    }
  }

  /** Opens newly released secrets, once the operator's signed result for this CVM and key verifies. */
  async #openSecrets(cvm: ConfidentialVM): Promise<void> {
    const key = this.#key;
    const released = cvm.status?.releasedSecrets ?? [];
    const fresh = released.filter(({ name, jwe }) => this.#handledSecrets.get(name) !== jwe);
    if (key === undefined || fresh.length === 0) return;
    const { trust, log } = this.#deps;
    if (trust === undefined) {
      log.warn({ secrets: fresh.length }, "No operator JWKS is pinned: released secrets are not opened");
      for (const { name, jwe } of fresh) this.#handledSecrets.set(name, jwe);
      return;
    }
    const standing = await checkOwnResult(
      cvm.status?.attestation?.token,
      { key, nonce: this.#keyNonce },
      trust,
      this.#deps.now?.() ?? new Date(),
    );
    if (!standing.ok) {
      log.warn(
        { reason: standing.reason },
        "The operator's result does not verify: released secrets are not opened",
      );
      return;
    }
    await this.#openEach(fresh, key, trust);
  }

  async #openEach(
    released: readonly ConfidentialVMStatusReleasedSecret[],
    key: GuestKey,
    trust: OperatorTrust,
  ): Promise<void> {
    for (const { name, jwe } of released) {
      this.#handledSecrets.set(name, jwe);
      try {
        const opened = await openReleasedSecret(jwe, name, key, trust);
        const keys = await writeSecretFiles(this.#deps.secretsDir, name, opened);
        this.#deps.log.info({ secret: name, keys: keys.length }, "Wrote a released secret");
      } catch (error) {
        const sealedElsewhere = error instanceof SealedToAnotherKeyError;
        this.#deps.log[sealedElsewhere ? "info" : "warn"](
          { secret: name, reason: (error as Error).message },
          sealedElsewhere
            ? "Skipped a secret sealed to an earlier key"
            : "Could not open a released secret; skipped",
        );
      }
    }
  }
}
