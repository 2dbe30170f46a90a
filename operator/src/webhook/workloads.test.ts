import { expect } from "chai";
import type { ConfidentialVM } from "../api/v1alpha1/generated/types.ts";
import type { AdmissionDecision, AdmissionRequest } from "./admission-review.ts";
import { aPod, aRequest, anAttestedCvm, aWorkload } from "../../test/support/builders/admission-requests.ts";
import { attestationState, decideWorkloadAdmission, requiredConfidentialVMs } from "./workloads.ts";

const NOW = new Date("2026-11-25T10:00:00Z");
const LATER = "2026-11-25T12:00:00.000Z";
const EARLIER = "2026-11-25T09:59:59.000Z";

const CVMS: ConfidentialVM[] = [
  anAttestedCvm("llm", { expiresAt: LATER }),
  anAttestedCvm("other-llm", { expiresAt: LATER }),
  anAttestedCvm("failed", {
    attested: "False",
    reason: "EvidenceInvalid",
    message: "quote signature invalid",
  }),
  anAttestedCvm("fresh", { attested: "none" }),
  anAttestedCvm("expired", { expiresAt: EARLIER }),
  anAttestedCvm("no-expiry"),
  anAttestedCvm("stale", { expiresAt: LATER, generation: 3, observedGeneration: 2 }),
  anAttestedCvm("elsewhere", { namespace: "team-b", expiresAt: LATER }),
  anAttestedCvm("restarted", { expiresAt: LATER, runningInstance: "vmi-2", resultInstance: "vmi-1" }),
  anAttestedCvm("stopped", { expiresAt: LATER, resultInstance: "vmi-1", runningInstance: "" }),
];

function lookup(namespace: string, name: string): ConfidentialVM | undefined {
  return CVMS.find((c) => c.metadata.namespace === namespace && c.metadata.name === name);
}

describe("attestationState", () => {
  const cases: Record<string, { cvm: string; namespace?: string; want: string | true }> = {
    "an Attested CVM with a result that expires later is fine": { cvm: "llm", want: true },
    "a missing CVM is not found": { cvm: "nope", want: "not found" },
    "a CVM in another namespace is not found": { cvm: "elsewhere", want: "not found" },
    "Attested=False gives its reason and message": {
      cvm: "failed",
      want: "not attested: EvidenceInvalid: quote signature invalid",
    },
    "no Attested condition yet names the phase": {
      cvm: "fresh",
      want: "not attested: no Attested condition yet (phase Attesting)",
    },
    "an expired result gives the time": { cvm: "expired", want: `attestation expired at ${EARLIER}` },
    "Attested=True without status.attestation.expiresAt is refused": {
      cvm: "no-expiry",
      want: "not attested: it has no result expiry (status.attestation.expiresAt)",
    },
    "a result of another VM instance than the running one (restart, relaunch) is refused": {
      cvm: "restarted",
      want: "not attested: the result is of VM instance vmi-1, the running instance is vmi-2",
    },
    "a result whose VM instance no longer runs is refused": {
      cvm: "stopped",
      want: "not attested: the result is of VM instance vmi-1, the running instance is (none)",
    },
    "a condition for an older generation of the spec is stale": {
      cvm: "stale",
      want: "not attested: the Attested condition is for generation 2, the spec is at generation 3",
    },
  };
  for (const [name, c] of Object.entries(cases)) {
    it(name, () => {
      const state = attestationState(lookup(c.namespace ?? "team-a", c.cvm), NOW);
      if (c.want === true) expect(state).to.deep.equal({ ok: true, expiresAt: new Date(LATER) });
      else expect(state).to.deep.equal({ ok: false, why: c.want });
    });
  }

  it("treats the exact expiry instant as expired", () => {
    const cvm = anAttestedCvm("edge", { expiresAt: NOW.toISOString() });
    expect(attestationState(cvm, NOW)).to.deep.equal({
      ok: false,
      why: `attestation expired at ${NOW.toISOString()}`,
    });
  });
});

describe("requiredConfidentialVMs", () => {
  it("reads the label from the object and the pod template, deduplicated and sorted", () => {
    expect(
      requiredConfidentialVMs("apps/Deployment", aWorkload("Deployment", { object: "b", template: "a" })),
    ).to.deep.equal({ names: ["a", "b"], problems: [] });
    expect(
      requiredConfidentialVMs("apps/Deployment", aWorkload("Deployment", { object: "a", template: "a" })),
    ).to.deep.equal({ names: ["a"], problems: [] });
  });

  it("reads a CronJob's job template's pod template", () => {
    expect(requiredConfidentialVMs("batch/CronJob", aWorkload("CronJob", { template: "llm" }))).to.deep.equal(
      {
        names: ["llm"],
        problems: [],
      },
    );
  });

  it("reports empty and non-string values instead of ignoring them", () => {
    const pod = aPod("");
    expect(requiredConfidentialVMs("/Pod", pod).problems).to.deep.equal([
      'metadata.labels["trustgate.io/requires-attested-vm"] must name a ConfidentialVM',
    ]);
    const odd = { metadata: { labels: { "trustgate.io/requires-attested-vm": 7 } } };
    expect(requiredConfidentialVMs("/Pod", odd).problems).to.have.length(1);
  });

  it("tolerates objects without labels, templates or metadata", () => {
    for (const obj of [{}, { metadata: null }, { spec: { template: "x" } }, null]) {
      expect(requiredConfidentialVMs("apps/Deployment", obj)).to.deep.equal({
        names: [],
        problems: [],
      });
    }
  });
});

function withImage(pod: Record<string, unknown>, image: string): Record<string, unknown> {
  return { ...pod, spec: { containers: [{ name: "app", image }] } };
}

describe("decideWorkloadAdmission", () => {
  type Case = {
    request: AdmissionRequest;
    want: AdmissionDecision | { allowed: false; code: number; includes: string };
  };
  const denied = (includes: string, code = 403) => ({ allowed: false as const, code, includes });
  const podOf = "trustgate: Pod team-a/web-0 requires an attested ConfidentialVM: ConfidentialVM team-a/";
  const refusedFor = (kind: string) =>
    `${kind} team-a/web requires an attested ConfidentialVM: ConfidentialVM team-a/`;
  /** A CREATE of a workload of `kind` labelled on the object and/or its template. */
  const created = (kind: string, on: Parameters<typeof aWorkload>[1]) => aRequest(kind, aWorkload(kind, on));
  const updated = (kind: string, before: Record<string, unknown>, after: Record<string, unknown>) =>
    aRequest(kind, after, { operation: "UPDATE", oldObject: before });
  const deleting = aWorkload("Deployment", { template: "expired" }, "app:2");
  (deleting["metadata"] as Record<string, unknown>)["deletionTimestamp"] = "2026-11-25T09:00:00Z";

  const cases: Record<string, Case> = {
    "admits a Pod for an attested CVM": { request: aRequest("Pod", aPod("llm")), want: { allowed: true } },
    "admits an unlabelled Pod": { request: aRequest("Pod", aPod()), want: { allowed: true } },
    "refuses a Pod for a missing CVM": {
      request: aRequest("Pod", aPod("nope")),
      want: denied(`${podOf}nope not found`),
    },
    "refuses a Pod for a CVM that failed attestation, with reason and message": {
      request: aRequest("Pod", aPod("failed")),
      want: denied(`${podOf}failed not attested: EvidenceInvalid: quote signature invalid`),
    },
    "refuses a Pod for an expired result, with the time": {
      request: aRequest("Pod", aPod("expired")),
      want: denied(`${podOf}expired attestation expired at ${EARLIER}`),
    },
    "refuses a Pod whose label names a CVM of another namespace": {
      request: aRequest("Pod", aPod("elsewhere")),
      want: denied(`${podOf}elsewhere not found`),
    },
    "refuses an empty label value as a bad request": {
      request: aRequest("Pod", aPod("")),
      want: denied("must name a ConfidentialVM", 400),
    },
    "admits Pod updates that change nothing the Pod runs (labels, finalizers) even when its CVM lapsed": {
      request: updated("Pod", aPod("expired"), {
        ...aPod("expired"),
        metadata: { ...(aPod("expired")["metadata"] as object), finalizers: ["x"] },
      }),
      want: { allowed: true },
    },
    "refuses a Pod update that changes an image while its CVM is not attested": {
      request: updated("Pod", aPod("expired"), withImage(aPod("expired"), "registry.example.com/app:2")),
      want: denied(`${podOf}expired attestation expired at ${EARLIER}`),
    },
    "admits an image change while the CVM is attested": {
      request: updated("Pod", aPod("llm"), withImage(aPod("llm"), "registry.example.com/app:2")),
      want: { allowed: true },
    },
    "refuses dropping the label in the same update as changing the image (the old requirement still counts)":
      {
        request: updated("Pod", aPod("expired"), withImage(aPod(), "registry.example.com/app:2")),
        want: denied(`${podOf}expired attestation expired at ${EARLIER}`),
      },
    "refuses ephemeral containers added to a Pod whose CVM is not attested": {
      request: {
        ...updated("Pod", aPod("expired"), {
          ...aPod("expired"),
          spec: {
            ...(aPod("expired")["spec"] as object),
            ephemeralContainers: [{ name: "debug", image: "busybox" }],
          },
        }),
        subResource: "ephemeralcontainers",
      },
      want: denied(`${podOf}expired attestation expired at ${EARLIER}`),
    },
    "admits other Pod subresources (status, binding) unjudged": {
      request: { ...updated("Pod", aPod("expired"), withImage(aPod("expired"), "x")), subResource: "status" },
      want: { allowed: true },
    },
    "admits Pod deletion": {
      request: aRequest("Pod", null, { operation: "DELETE", oldObject: aPod("expired") }),
      want: { allowed: true },
    },
    "admits a Deployment whose template requires an attested CVM": {
      request: created("Deployment", { template: "llm" }),
      want: { allowed: true },
    },
    "refuses a Deployment whose template requires a non-attested CVM": {
      request: created("Deployment", { template: "failed" }),
      want: denied(`${refusedFor("Deployment")}failed not attested`),
    },
    "refuses a StatefulSet labelled only on the object": {
      request: created("StatefulSet", { object: "nope" }),
      want: denied(`${refusedFor("StatefulSet")}nope not found`),
    },
    "lists every CVM that is not attested when object and template disagree": {
      request: created("DaemonSet", { object: "expired", template: "nope" }),
      want: denied(
        "ConfidentialVM team-a/expired attestation expired at 2026-11-25T09:59:59.000Z; ConfidentialVM team-a/nope not found",
      ),
    },
    "refuses when one of two CVMs is fine and the other is not": {
      request: created("ReplicaSet", { object: "llm", template: "fresh" }),
      want: denied("ConfidentialVM team-a/fresh not attested: no Attested condition yet"),
    },
    "checks a Job's template": {
      request: created("Job", { template: "stale" }),
      want: denied("ConfidentialVM team-a/stale not attested: the Attested condition is for generation 2"),
    },
    "checks a CronJob's job template": {
      request: created("CronJob", { template: "expired" }),
      want: denied(`${refusedFor("CronJob")}expired attestation expired`),
    },
    "admits a CronJob for two attested CVMs": {
      request: created("CronJob", { object: "llm", template: "other-llm" }),
      want: { allowed: true },
    },
    "checks a template update that changes the pod template": {
      request: updated(
        "Deployment",
        aWorkload("Deployment", { template: "expired" }),
        aWorkload("Deployment", { template: "expired" }, "app:2"),
      ),
      want: denied("ConfidentialVM team-a/expired attestation expired"),
    },
    "checks a template update that changes the required CVM": {
      request: updated(
        "Deployment",
        aWorkload("Deployment", { template: "llm" }),
        aWorkload("Deployment", { template: "nope" }),
      ),
      want: denied("ConfidentialVM team-a/nope not found"),
    },
    "admits a template update that leaves the pod template alone (e.g. replicas, annotations)": {
      request: updated(
        "Deployment",
        aWorkload("Deployment", { template: "expired" }),
        aWorkload("Deployment", { template: "expired" }),
      ),
      want: { allowed: true },
    },
    "admits updates of a workload being deleted (finalizers must come off)": {
      request: updated("Deployment", aWorkload("Deployment", { template: "expired" }), deleting),
      want: { allowed: true },
    },
    "admits status and scale subresources": {
      request: {
        ...created("Deployment", { template: "nope" }),
        subResource: "status",
      },
      want: { allowed: true },
    },
    "allows kinds it does not gate, with a warning": {
      request: aRequest("Service", {
        metadata: { name: "s", labels: { "trustgate.io/requires-attested-vm": "nope" } },
      }),
      want: { allowed: true, warnings: ["trustgate does not validate /Service"] },
    },
  };
  for (const [name, c] of Object.entries(cases)) {
    it(name, () => {
      const decision = decideWorkloadAdmission(c.request, lookup, NOW);
      if ("includes" in c.want) {
        expect(decision).to.include({ allowed: false, code: c.want.code });
        expect(decision.message).to.include(c.want.includes);
      } else expect(decision).to.deep.equal(c.want);
    });
  }

  it("names a Pod created with generateName by its prefix", () => {
    const pod = aPod("nope");
    (pod["metadata"] as Record<string, unknown>)["name"] = undefined;
    (pod["metadata"] as Record<string, unknown>)["generateName"] = "web-7f9c-";
    const decision = decideWorkloadAdmission(aRequest("Pod", pod), lookup, NOW);
    expect(decision.message).to.match(/^trustgate: Pod team-a\/web-7f9c- requires/);
  });
});
