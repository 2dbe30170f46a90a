import { expect } from "chai";
import type { CoreV1Api, CoreV1Event } from "@kubernetes/client-node";
import { pino } from "pino";
import { aPod, aRequest } from "../../test/support/builders/admission-requests.ts";
import type { AdmissionDecision } from "./admission-review.ts";
import { AuditEventRecorder } from "./audit-events.ts";
import {
  applyWebhookMode,
  AUDIT_WARNING_PREFIX,
  auditEvent,
  parseWebhookMode,
  REASON_WOULD_REFUSE,
} from "./audit.ts";
import type { AdmissionTarget } from "./validate.ts";

const refused: AdmissionDecision = {
  allowed: false,
  code: 403,
  message: "trustgate: ConfidentialVM team-a/llm not found",
};
const NOW = new Date("2026-12-07T06:00:00Z");

describe("webhook audit mode", function () {
  const cases: {
    name: string;
    mode: "enforce" | "audit";
    target: AdmissionTarget;
    decision: AdmissionDecision;
    want: AdmissionDecision;
    wouldRefuse?: string;
  }[] = [
    {
      name: "enforce: a refusal stays a refusal",
      mode: "enforce",
      target: "workloads",
      decision: refused,
      want: refused,
    },
    {
      name: "audit: a workload refusal is admitted with a warning naming it",
      mode: "audit",
      target: "workloads",
      decision: refused,
      want: {
        allowed: true,
        warnings: [`${AUDIT_WARNING_PREFIX}trustgate: ConfidentialVM team-a/llm not found`],
      },
      wouldRefuse: "trustgate: ConfidentialVM team-a/llm not found",
    },
    {
      name: "audit: earlier warnings are kept, the refusal's warning comes last",
      mode: "audit",
      target: "workloads",
      decision: { ...refused, warnings: ["misrouted"] },
      want: { allowed: true, warnings: ["misrouted", `${AUDIT_WARNING_PREFIX}${refused.message ?? ""}`] },
      wouldRefuse: refused.message ?? "",
    },
    {
      name: "audit: not synced yet (503) is admitted too: audit mode never blocks workloads",
      mode: "audit",
      target: "workloads",
      decision: { allowed: false, code: 503, message: "starting" },
      want: { allowed: true, warnings: [`${AUDIT_WARNING_PREFIX}starting`] },
      wouldRefuse: "starting",
    },
    {
      name: "audit: an admitted workload is unchanged, no Event",
      mode: "audit",
      target: "workloads",
      decision: { allowed: true },
      want: { allowed: true },
    },
    {
      name: "audit: a ConfidentialVM refusal stays enforced (it protects trustgate's own objects)",
      mode: "audit",
      target: "confidentialVMs",
      decision: refused,
      want: refused,
    },
    {
      name: "audit: deleting a referenced AttestationPolicy stays refused",
      mode: "audit",
      target: "attestationPolicies",
      decision: refused,
      want: refused,
    },
  ];
  for (const c of cases) {
    it(c.name, function () {
      const result = applyWebhookMode(c.mode, c.target, c.decision);
      expect(result.decision).to.deep.equal(c.want);
      expect(result.wouldRefuse).to.equal(c.wouldRefuse);
    });
  }

  it("parses --mode: enforce by default, audit, anything else refused", function () {
    expect(parseWebhookMode(undefined)).to.equal("enforce");
    expect(parseWebhookMode("audit")).to.equal("audit");
    expect(() => parseWebhookMode("warn")).to.throw('must be enforce or audit, not "warn"');
  });

  it("puts the Event on the ConfidentialVM the workload names, in the workload's namespace", function () {
    const event = auditEvent(aRequest("Pod", aPod("llm", "web-0")), "not attested", NOW, "webhook-0");
    expect(event.involvedObject).to.deep.equal({
      apiVersion: "trustgate.io/v1alpha1",
      kind: "ConfidentialVM",
      namespace: "team-a",
      name: "llm",
    });
    expect(event.metadata.namespace).to.equal("team-a");
    expect(event.type).to.equal("Warning");
    expect(event.reason).to.equal(REASON_WOULD_REFUSE);
    expect(event.message).to.equal(
      "audit mode: admitted CREATE Pod team-a/web-0, which enforce mode would refuse: not attested",
    );
  });

  it("puts the Event on the workload when its label names no ConfidentialVM", function () {
    const pod = aPod("", "web-1");
    const event = auditEvent(aRequest("Pod", pod), "label must name a ConfidentialVM", NOW, "webhook-0");
    expect(event.involvedObject).to.deep.equal({
      apiVersion: "v1",
      kind: "Pod",
      namespace: "team-a",
      name: "web-1",
    });
  });

  describe("AuditEventRecorder", function () {
    function recorder(): { events: CoreV1Event[]; record: AuditEventRecorder; now: { t: Date } } {
      const events: CoreV1Event[] = [];
      const now = { t: NOW };
      const core = {
        createNamespacedEvent: ({ body }: { body: CoreV1Event }) => {
          events.push(body);
          return Promise.resolve(body);
        },
      } as unknown as CoreV1Api;
      const record = new AuditEventRecorder({
        core,
        log: pino({ level: "silent" }),
        instance: "w",
        now: () => now.t,
      });
      return { events, record, now };
    }

    it("records a refusal once per window, again after it", function () {
      const { events, record, now } = recorder();
      const request = aRequest("Pod", aPod("llm"));
      record.record(request, "not attested");
      record.record(request, "not attested");
      expect(events).to.have.length(1);
      record.record(request, "attestation expired");
      expect(events, "another refusal is another Event").to.have.length(2);
      now.t = new Date(NOW.getTime() + 301_000);
      record.record(request, "not attested");
      expect(events).to.have.length(3);
    });

    it("records nothing for a dry run (the configuration says NoneOnDryRun)", function () {
      const { events, record } = recorder();
      record.record({ ...aRequest("Pod", aPod("llm")), dryRun: true }, "not attested");
      expect(events).to.deep.equal([]);
    });

    it("logs, never throws, when the Event cannot be written", async function () {
      const lines: string[] = [];
      const core = {
        createNamespacedEvent: () => Promise.reject(new Error("forbidden")),
      } as unknown as CoreV1Api;
      const log = pino({ level: "warn" }, { write: (line: string) => lines.push(line) });
      new AuditEventRecorder({ core, log, instance: "w" }).record(
        aRequest("Pod", aPod("llm")),
        "not attested",
      );
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(lines.join("")).to.include("Could not record an audit-mode Event");
    });
  });
});
