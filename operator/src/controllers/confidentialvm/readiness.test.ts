import { expect } from "chai";
import type { Condition } from "../../api/v1alpha1/generated/types.ts";
import { deriveReadiness, type Lifecycle, type LifecycleStage, stageOfPhase } from "./readiness.ts";

const now = new Date("2025-07-01T12:00:00Z");
const later = "2025-07-01T14:00:00Z";
const earlier = "2025-07-01T11:00:00Z";
const running: Lifecycle = { stage: "Running", reason: "VMIRunning", message: "VM running" };
const attested = (status: Condition["status"], reason = "Affirming", message = "attested"): Condition => ({
  type: "Attested",
  status,
  reason,
  message,
  lastTransitionTime: earlier,
});

describe("deriveReadiness", () => {
  const cases: [string, Lifecycle, Condition | undefined, string | undefined, string, string, string][] = [
    // sentence, lifecycle, Attested, result expiry → phase, Ready status, Ready reason
    [
      "a running VM with an Attested, unexpired result is Attested and Ready",
      running,
      attested("True"),
      later,
      "Attested",
      "True",
      "Attested",
    ],
    [
      "a running VM that was never challenged is Attesting, not Ready",
      running,
      undefined,
      undefined,
      "Attesting",
      "False",
      "NotAttested",
    ],
    [
      "a running VM whose evidence was refused is Attesting with the refusal as Ready's reason",
      running,
      attested("False", "NonceMismatch", "replayed"),
      undefined,
      "Attesting",
      "False",
      "NonceMismatch",
    ],
    [
      "a running VM whose result expired is Attesting even before the handshake notices",
      running,
      attested("True"),
      earlier,
      "Attesting",
      "False",
      "ResultExpired",
    ],
    [
      "a running VM whose Attested condition has no result expiry is not Ready",
      running,
      attested("True"),
      undefined,
      "Attesting",
      "False",
      "ResultExpired",
    ],
    [
      "a VM on a host that stopped being Validated is Degraded, even if Attested is still True",
      { stage: "Degraded", reason: "HostNotValidated", message: "GPU CC mode off" },
      attested("True"),
      later,
      "Degraded",
      "False",
      "HostNotValidated",
    ],
    [
      "a CVM waiting for a host is Scheduling with the lifecycle's reason",
      { stage: "Scheduling", reason: "NoEligibleHost", message: "no host" },
      undefined,
      undefined,
      "Scheduling",
      "False",
      "NoEligibleHost",
    ],
    [
      "a CVM whose VM is starting is Launching, whatever an earlier result says",
      { stage: "Launching", reason: "VMINotRunning", message: "waiting" },
      attested("True"),
      later,
      "Launching",
      "False",
      "VMINotRunning",
    ],
    [
      "a CVM whose VMI failed is Failed",
      { stage: "Failed", reason: "VMIFailed", message: "crashed" },
      undefined,
      undefined,
      "Failed",
      "False",
      "VMIFailed",
    ],
    [
      "a CVM without its policy is Pending",
      { stage: "Pending", reason: "PolicyNotFound", message: "gone" },
      undefined,
      undefined,
      "Pending",
      "False",
      "PolicyNotFound",
    ],
  ];
  for (const [sentence, lifecycle, condition, expiresAt, phase, status, reason] of cases) {
    it(sentence, () => {
      const readiness = deriveReadiness(lifecycle, condition, expiresAt, now);
      expect([readiness.phase, readiness.ready.status, readiness.ready.reason]).to.deep.equal([
        phase,
        status,
        reason,
      ]);
      expect(readiness.ready.type).to.equal("Ready");
    });
  }

  it("gives every lifecycle stage a phase", () => {
    const stages: LifecycleStage[] = ["Pending", "Scheduling", "Launching", "Running", "Degraded", "Failed"];
    const phases = stages.map(
      (stage) => deriveReadiness({ stage, reason: "R", message: "m" }, undefined, undefined, now).phase,
    );
    expect(phases).to.deep.equal(["Pending", "Scheduling", "Launching", "Attesting", "Degraded", "Failed"]);
  });

  it("keeps one Ready message across re-attestations, so a renewed result costs no lifecycle write", () => {
    const first = deriveReadiness(running, attested("True", "Affirming", "attested at 10:00"), later, now);
    const renewed = deriveReadiness(running, attested("True", "Affirming", "attested at 11:00"), later, now);
    expect(renewed.ready).to.deep.equal(first.ready);
  });

  it("maps every derived phase back to its stage, so Attesting and Attested are one lifecycle stage", () => {
    const stages: LifecycleStage[] = ["Pending", "Scheduling", "Launching", "Running", "Degraded", "Failed"];
    for (const stage of stages) {
      for (const attestedStatus of [undefined, "True"] as const) {
        const condition = attestedStatus === undefined ? undefined : attested(attestedStatus);
        const { phase } = deriveReadiness({ stage, reason: "R", message: "m" }, condition, later, now);
        expect(stageOfPhase(phase), `${stage} → ${phase}`).to.equal(stage);
      }
    }
  });
});
