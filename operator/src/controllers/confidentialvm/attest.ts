import { randomBytes } from "node:crypto";
import {
  type CoreV1Api,
  type CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
} from "@kubernetes/client-node";
import { isDeepStrictEqual } from "node:util";
import type {
  AttestationPolicy,
  ConfidentialVM,
  ConfidentialVMStatus,
  ConfidentialVMStatusReleasedSecret,
} from "../../api/v1alpha1/generated/types.ts";
import { CONFIDENTIAL_VM, GROUP, VERSION } from "../../api/v1alpha1/generated/types.ts";
import { type ReleaseContext, sealSecretForGuest } from "../../attestation/result/secret-release.ts";
import type { AttestationBackends } from "../../attestation/appraise.ts";
import {
  type CompiledPolicy,
  type PolicyCompiler,
  sharedPolicyCompiler,
} from "../../attestation/policy/compiled-policy.ts";
import type { StoredSigningKey } from "../../attestation/result/signing-keys.ts";
import { isNotFound } from "../../kube/api-error.ts";
import { rfc3339, setCondition } from "../../runtime/conditions.ts";
import { objectKey, type ReconcileContext, type ReconcileResult } from "../../runtime/controller.ts";
import type { EventRecorder } from "../../runtime/events.ts";
import type { AttestationObserver } from "../../runtime/attestation-metrics.ts";
import { noncePrefix } from "../../runtime/logger.ts";
import { appraiseCvm, DEFAULT_MAX_EVIDENCE_BYTES } from "./appraise-cvm.ts";
import { nextAttestationStep, resultStands } from "./attestation-step.ts";
import * as r from "../../api/v1alpha1/confidential-vm-conditions.ts";
import { ownedStatusPatch, statusAfterPatch } from "./status-ownership.ts";
import { withTcbDrift, type TcbDriftDeps } from "./tcb-drift-step.ts";

export interface AttestationDeps {
  objects: CustomObjectsApi;
  core: CoreV1Api;
  events: EventRecorder;
  backends: AttestationBackends;
  /** Compiles each AttestationPolicy once per resourceVersion; default: one shared by the process. */
  policies?: PolicyCompiler;
  signingKey: () => Promise<StoredSigningKey>;
  issuer: string;
  /** Every ConfidentialVM, for "no GPU identity attested by another live CVM". */
  allCvms: () => readonly ConfidentialVM[];
  /** `status.evidence` larger than this (JSON bytes) is refused unread; default DEFAULT_MAX_EVIDENCE_BYTES. */
  maxEvidenceBytes?: number;
  now?: () => Date;
  /**
   * The lifecycle's patch (phase, Ready) for the CVM as this write leaves it, sent in the same request so a new
   * Attested costs one write, not two. The lifecycle's conditions already carry the handshake's Attested.
   */
  lifecycleFollowUp?: (after: ConfidentialVM) => Record<string, unknown>;
  /** Intel's early TCB evaluation, for the TcbDriftSoon warning on TDX CVMs; without it no warning is given. */
  tcbDrift?: TcbDriftDeps;
  /** trustgate_attestations_total, _duration_seconds, secrets released. */
  metrics?: AttestationObserver;
}

/** What the handshake owns (status-ownership.ts): phase and Ready are the lifecycle's, derived from Attested. */
type AttestationStatus = Pick<
  ConfidentialVMStatus,
  "challenge" | "attestation" | "releasedSecrets" | "conditions"
>;

function gpuIdentitiesElsewhere(
  self: ConfidentialVM,
  all: readonly ConfidentialVM[],
  now: Date,
): Map<string, string> {
  const identities = new Map<string, string>();
  for (const other of all) {
    if (other.metadata.uid === self.metadata.uid || !resultStands(other, now).ok) continue;
    for (const gpu of other.status?.attestation?.gpus ?? []) {
      if (gpu.identity !== undefined) identities.set(gpu.identity, objectKey(other));
    }
  }
  return identities;
}

/**
 * Signs each Secret the CVM lists and seals it to its attested guest key; Secrets that do not exist are named, not
 * released.
 */
async function releaseSecrets(
  cvm: ConfidentialVM,
  deps: AttestationDeps,
  guestKey: NonNullable<ConfidentialVMStatus["evidence"]>["publicKey"],
  release: Omit<ReleaseContext, "secretName"> & { thumbprint: string },
): Promise<{ released: ConfidentialVMStatusReleasedSecret[]; missing: string[] }> {
  const released: ConfidentialVMStatusReleasedSecret[] = [];
  const missing: string[] = [];
  for (const ref of cvm.spec.secrets ?? []) {
    try {
      const secret = await deps.core.readNamespacedSecret({
        name: ref.name,
        namespace: cvm.metadata.namespace ?? "",
      });
      const keys = ref.keys ?? Object.keys(secret.data ?? {});
      // The exact bytes: Secret values need not be UTF-8 (keys, certificates in DER, model weights' keys).
      const data = Object.fromEntries(
        keys
          .filter((k) => secret.data?.[k] !== undefined)
          .map((k) => [k, Buffer.from(secret.data?.[k] ?? "", "base64")]),
      );
      const jwe = await sealSecretForGuest(data, guestKey, release.thumbprint, {
        ...release,
        secretName: ref.name,
      });
      released.push({ name: ref.name, jwe });
    } catch (error) {
      if (!isNotFound(error)) throw error;
      missing.push(ref.name);
    }
  }
  return { released, missing };
}

/** A policy the CRD refuses (e.g. stored before a CRD upgrade) is looked at again after this long, or on change. */
const RETRY_INVALID_POLICY_MS = 5 * 60_000;

/** Merge-patches only the fields the handshake owns (never the guest's evidence), and only when they change. */
async function write(
  deps: AttestationDeps,
  cvm: ConfidentialVM,
  next: AttestationStatus,
  clearChallenge: boolean,
): Promise<boolean> {
  const current = cvm.status ?? {};
  const status = ownedStatusPatch("handshake", current, next);
  if (clearChallenge && current.challenge !== undefined) status["challenge"] = null;
  // A merge patch merges objects: fields of the last result that the new one lacks (its token) must be nulled.
  const attestation = status["attestation"] as Record<string, unknown> | undefined;
  if (attestation !== undefined) {
    for (const key of Object.keys(current.attestation ?? {}))
      if (!(key in attestation)) attestation[key] = null;
  }
  if (Object.keys(status).length === 0) return false;
  Object.assign(status, deps.lifecycleFollowUp?.({ ...cvm, status: statusAfterPatch(current, status) }));
  await deps.objects.patchNamespacedCustomObjectStatus(
    {
      group: GROUP,
      version: VERSION,
      plural: CONFIDENTIAL_VM.plural,
      namespace: cvm.metadata.namespace ?? "",
      name: cvm.metadata.name ?? "",
      body: { metadata: { resourceVersion: cvm.metadata.resourceVersion }, status },
    },
    setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
  );
  return true;
}

function involvedObject(cvm: ConfidentialVM): {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
} {
  return {
    apiVersion: cvm.apiVersion,
    kind: cvm.kind,
    name: cvm.metadata.name ?? "",
    ...(cvm.metadata.namespace === undefined ? {} : { namespace: cvm.metadata.namespace }),
  };
}

function withAttestedConditions(
  cvm: ConfidentialVM,
  stands: Pick<ReturnType<typeof resultStands>, "ok" | "reason" | "message">,
  now: Date,
): Pick<AttestationStatus, "conditions"> {
  const status = stands.ok ? ("True" as const) : ("False" as const);
  const attested = { type: r.CONDITION_ATTESTED, status, reason: stands.reason, message: stands.message };
  return { conditions: setCondition(cvm.status?.conditions, attested, cvm.metadata.generation, now) };
}

/** Sets Attested=False (e.g. the host stopped being Validated); says whether it wrote. */
export async function withdrawAttested(
  cvm: ConfidentialVM,
  reason: string,
  message: string,
  deps: AttestationDeps,
): Promise<boolean> {
  const now = (deps.now ?? (() => new Date()))();
  const withdrawn = withAttestedConditions(cvm, { ok: false, reason, message }, now);
  return write(deps, cvm, withdrawn, false);
}

/** The CVM as stored now, with its whole evidence bundle (the controller's cache keeps only its nonce and key). */
async function readWhole(deps: AttestationDeps, cvm: ConfidentialVM): Promise<ConfidentialVM | undefined> {
  try {
    return (await deps.objects.getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: CONFIDENTIAL_VM.plural,
      namespace: cvm.metadata.namespace ?? "",
      name: cvm.metadata.name ?? "",
    })) as ConfidentialVM;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** Verifies and appraises the answer, sets Attested, writes the signed result and releases the secrets. */
async function appraiseAndRelease(
  cvm: ConfidentialVM,
  policy: CompiledPolicy,
  deps: AttestationDeps,
  ctx: ReconcileContext,
  now: Date,
): Promise<void> {
  const started = performance.now();
  const signingKey = await deps.signingKey();
  const attestation = await appraiseCvm(cvm, policy, {
    maxEvidenceBytes: deps.maxEvidenceBytes ?? DEFAULT_MAX_EVIDENCE_BYTES,
    backends: deps.backends,
    gpuIdentitiesElsewhere: gpuIdentitiesElsewhere(cvm, deps.allCvms(), now),
    signingKey,
    issuer: deps.issuer,
    subject: objectKey(cvm),
    now,
  });
  const verified = performance.now();
  const appraised = { ...cvm, status: { ...cvm.status, attestation } };
  const stands = resultStands(appraised, now, policy);
  const evidence = cvm.status?.evidence;
  const secrets =
    stands.ok && evidence !== undefined
      ? await releaseSecrets(cvm, deps, evidence.publicKey, {
          thumbprint: attestation.keyThumbprint ?? "",
          issuer: deps.issuer,
          subject: objectKey(cvm),
          nonce: attestation.nonce ?? "",
          signingKey,
          now,
        })
      : { released: [], missing: [] };
  const attested = withAttestedConditions(appraised, stands, now).conditions ?? [];
  const next: AttestationStatus = {
    conditions: await withTcbDrift(cvm, attested, attestation, deps.tcbDrift, ctx, now),
    attestation,
    releasedSecrets: secrets.released,
  };
  const sealed = performance.now();
  await write(deps, cvm, next, true);
  const tee = cvm.spec.tee;
  const issuedAt = Date.parse(cvm.status?.challenge?.issuedAt ?? "");
  if (!Number.isNaN(issuedAt)) deps.metrics?.stage(tee, "evidence", (now.getTime() - issuedAt) / 1000);
  deps.metrics?.stage(tee, "verify", (verified - started) / 1000);
  deps.metrics?.stage(tee, "write", (performance.now() - verified) / 1000);
  deps.metrics?.appraised(tee, attestation.verdict ?? "unknown", stands.reason);
  deps.metrics?.secretsReleased(secrets.released.length);
  ctx.log.info(
    {
      nonce: noncePrefix(attestation.nonce),
      verdict: attestation.verdict,
      violations: attestation.violations?.length ?? 0,
      verifyMs: Math.round(verified - started),
      secretsMs: Math.round(sealed - verified),
      writeMs: Math.round(performance.now() - sealed),
    },
    "Appraised attestation evidence",
  );
  const missing =
    secrets.missing.length === 0 ? "" : `; Secrets not found, not released: ${secrets.missing.join(", ")}`;
  await deps.events.record(
    involvedObject(cvm),
    stands.ok ? "Normal" : "Warning",
    stands.ok ? "Attested" : stands.reason,
    `${stands.message}${missing}`,
  );
}

/**
 * The attestation handshake for a CVM whose VM runs on a validated host (docs/attestation-handshake.md): issue a
 * challenge, appraise the answer, set Attested with a signed result, release secrets, re-attest.
 */
export async function reconcileAttestation(
  cvm: ConfidentialVM,
  policy: AttestationPolicy,
  deps: AttestationDeps,
  ctx: ReconcileContext,
): Promise<ReconcileResult> {
  const now = (deps.now ?? (() => new Date()))();
  const compiled = (deps.policies ?? sharedPolicyCompiler).compile(policy);
  if (!compiled.ok) {
    const problems = compiled.errors.map((e) => `${e.path}: ${e.message}`).join("; ");
    const invalid = {
      ok: false,
      reason: "PolicyInvalid",
      message: `AttestationPolicy ${policy.metadata.name ?? ""} is not valid: ${problems}`,
    };
    await write(
      deps,
      cvm,
      { challenge: cvm.status?.challenge, ...withAttestedConditions(cvm, invalid, now) },
      false,
    );
    return { requeueAfterMs: RETRY_INVALID_POLICY_MS };
  }
  const freshness = compiled.policy.freshness;
  const identity = compiled.policy;
  const step = nextAttestationStep(cvm, freshness, now, identity);
  switch (step.kind) {
    case "wait": {
      const stands = resultStands(cvm, now, identity);
      await write(
        deps,
        cvm,
        { challenge: cvm.status?.challenge, ...withAttestedConditions(cvm, stands, now) },
        false,
      );
      return { requeueAfterMs: step.afterMs + 500 };
    }
    case "challenge": {
      const stands = resultStands(cvm, now, identity);
      const challenge = {
        nonce: randomBytes(32).toString("hex"),
        issuedAt: rfc3339(now),
        expiresAt: rfc3339(new Date(now.getTime() + freshness.challengeTtlMs)),
      };
      const issuing = performance.now();
      await write(deps, cvm, { challenge, ...withAttestedConditions(cvm, stands, now) }, false);
      deps.metrics?.stage(cvm.spec.tee, "challenge", (performance.now() - issuing) / 1000);
      ctx.log.info(
        { why: step.why, nonce: noncePrefix(challenge.nonce), expiresAt: challenge.expiresAt },
        "Issued attestation challenge",
      );
      return { requeueAfterMs: freshness.challengeTtlMs + 500 };
    }
    case "reject": {
      // A standing result stays (a replay counts as no answer); otherwise Attested says why it is not.
      const stands = resultStands(cvm, now, identity);
      const shown = stands.ok ? stands : { ok: false, reason: step.reason, message: step.message };
      const wrote = await write(
        deps,
        cvm,
        { challenge: cvm.status?.challenge, ...withAttestedConditions(cvm, shown, now) },
        false,
      );
      ctx.log.warn({ reason: step.reason, nonce: noncePrefix(cvm.status?.challenge?.nonce) }, step.message);
      if (wrote && !stands.ok)
        await deps.events.record(involvedObject(cvm), "Warning", step.reason, step.message);
      return { requeueAfterMs: step.afterMs + 500 };
    }
    case "appraise": {
      const whole = await readWhole(deps, cvm);
      // Appraise exactly the answer the step was decided on; a newer version arrives through the watch.
      const same = (c: ConfidentialVM | undefined) => [
        c?.status?.challenge?.nonce,
        c?.status?.evidence?.nonce,
      ];
      if (whole === undefined || !isDeepStrictEqual(same(whole), same(cvm))) return { requeueAfterMs: 1000 };
      await appraiseAndRelease(whole, compiled.policy, deps, ctx, now);
      return { requeueAfterMs: freshness.reattestIntervalMs };
    }
  }
}
