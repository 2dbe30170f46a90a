import { expect } from "chai";
import type { ConfidentialVMStatus } from "../../api/v1alpha1/generated/types.ts";
import { aConfidentialVM } from "../../../test/support/builders/confidential-vm.ts";
import { compilePolicySpec } from "../../attestation/policy/compiled-policy.ts";
import { nextAttestationStep, resultStands } from "./attestation-step.ts";

const NOW = new Date("2026-11-25T10:00:00Z");
const at = (minutes: number): string => new Date(NOW.getTime() + minutes * 60_000).toISOString();
const NONCE = "5e".repeat(32);
const fresh = compilePolicySpec({}).freshness;

function withStatus(status: ConfidentialVMStatus) {
  const cvm = aConfidentialVM();
  cvm.status = status;
  return cvm;
}

const evidence = (nonce: string) => ({
  nonce,
  publicKey: { kty: "EC" as const, crv: "P-256" as const, x: "x", y: "y" },
  tee: { type: "snp" as const, report: "AA==" },
});

describe("nextAttestationStep", () => {
  const cases: [string, ConfidentialVMStatus, string][] = [
    ["challenges a CVM that was never attested", {}, "challenge"],
    [
      "waits for an answer to an open challenge",
      { challenge: { nonce: NONCE, issuedAt: at(-1), expiresAt: at(4) } },
      "wait",
    ],
    [
      "appraises evidence answering the open challenge in time",
      { challenge: { nonce: NONCE, issuedAt: at(-1), expiresAt: at(4) }, evidence: evidence(NONCE) },
      "appraise",
    ],
    [
      "rejects, never appraises, evidence for another nonce (replay, wrong nonce)",
      {
        challenge: { nonce: NONCE, issuedAt: at(-1), expiresAt: at(4) },
        evidence: evidence("aa".repeat(32)),
      },
      "reject",
    ],
    [
      "rejects an earlier bundle replayed after a later result",
      {
        challenge: { nonce: NONCE, issuedAt: at(-1), expiresAt: at(4) },
        evidence: evidence("aa".repeat(32)),
        attestation: { verifiedAt: at(-61), expiresAt: at(59), verdict: "affirming", nonce: "bb".repeat(32) },
      },
      "reject",
    ],
    [
      "waits while the evidence is still the last result's (re-attestation just asked)",
      {
        challenge: { nonce: NONCE, issuedAt: at(-1), expiresAt: at(4) },
        evidence: evidence("aa".repeat(32)),
        attestation: { verifiedAt: at(-61), expiresAt: at(59), verdict: "affirming", nonce: "aa".repeat(32) },
      },
      "wait",
    ],
    [
      "replaces an expired challenge even when wrong evidence is present",
      {
        challenge: { nonce: NONCE, issuedAt: at(-6), expiresAt: at(-1) },
        evidence: evidence("aa".repeat(32)),
      },
      "challenge",
    ],
    [
      "replaces a challenge that expired unanswered",
      { challenge: { nonce: NONCE, issuedAt: at(-6), expiresAt: at(-1) } },
      "challenge",
    ],
    [
      "replaces a challenge answered too late",
      { challenge: { nonce: NONCE, issuedAt: at(-6), expiresAt: at(-1) }, evidence: evidence(NONCE) },
      "challenge",
    ],
    [
      "waits while the last result is fresh",
      { attestation: { verifiedAt: at(-10), expiresAt: at(110), verdict: "affirming" } },
      "wait",
    ],
    [
      "re-attests every reattestInterval",
      { attestation: { verifiedAt: at(-61), expiresAt: at(59), verdict: "affirming" } },
      "challenge",
    ],
    [
      "retries a failed appraisal after a minute, not a reattestInterval",
      { attestation: { verifiedAt: at(-2), expiresAt: at(118), verdict: "contraindicated" } },
      "challenge",
    ],
    [
      "waits a little after a failed appraisal",
      { attestation: { verifiedAt: at(-0.5), expiresAt: at(119), verdict: "contraindicated" } },
      "wait",
    ],
    [
      "re-attests once a result expired",
      { attestation: { verifiedAt: at(-30), expiresAt: at(-1), verdict: "affirming" } },
      "challenge",
    ],
  ];
  for (const [name, status, kind] of cases) {
    it(name, () => {
      expect(nextAttestationStep(withStatus(status), fresh, NOW).kind).to.equal(kind);
    });
  }

  describe("re-attests when the result was appraised against another policy than the CVM's", () => {
    const result = {
      verifiedAt: at(-10),
      expiresAt: at(110),
      verdict: "affirming" as const,
      policyName: "production",
      policyUid: "uid-1",
      policyGeneration: 1,
    };
    const cases: [string, { name: string; uid?: string; generation?: number }, string | undefined][] = [
      ["the same policy: nothing to do", { name: "production", uid: "uid-1", generation: 1 }, undefined],
      [
        "the policy was edited",
        { name: "production", uid: "uid-1", generation: 2 },
        "changed (generation 1 → 2)",
      ],
      [
        "policyRef names another policy of the same generation",
        { name: "strict", uid: "uid-2", generation: 1 },
        "now names strict",
      ],
      [
        "the policy was deleted and recreated",
        { name: "production", uid: "uid-9", generation: 1 },
        "was replaced",
      ],
    ];
    for (const [name, policy, why] of cases) {
      it(name, () => {
        const cvm = withStatus({ attestation: result });
        const step = nextAttestationStep(cvm, fresh, NOW, policy);
        const stands = resultStands(cvm, NOW, policy);
        if (why === undefined) {
          expect(step.kind).to.equal("wait");
          expect(stands.ok).to.equal(true);
        } else {
          expect(step.kind).to.equal("challenge");
          expect(step.kind === "challenge" ? step.why : "").to.include(why);
          expect(stands).to.deep.include({ ok: false, reason: "PolicyChanged" });
        }
      });
    }
  });

  it("waits exactly until the re-attestation is due", () => {
    const step = nextAttestationStep(
      withStatus({ attestation: { verifiedAt: at(-10), expiresAt: at(110), verdict: "affirming" } }),
      fresh,
      NOW,
    );
    expect(step).to.deep.equal({ kind: "wait", afterMs: 50 * 60_000 });
  });

  it("names both nonces when it rejects evidence, and keeps the challenge open until it expires", () => {
    const step = nextAttestationStep(
      withStatus({
        challenge: { nonce: NONCE, issuedAt: at(-1), expiresAt: at(4) },
        evidence: evidence("aa".repeat(32)),
      }),
      fresh,
      NOW,
    );
    if (step.kind !== "reject") throw new Error(`expected reject, got ${step.kind}`);
    expect(step.reason).to.equal("NonceMismatch");
    expect(step.message).to.include(`answers nonce ${"aa".repeat(32)}, not the open challenge ${NONCE}`);
    expect(step.afterMs).to.equal(4 * 60_000);
  });

  it("takes the policy's freshness", () => {
    expect(
      compilePolicySpec({ freshness: { challengeTtl: "90s", reattestInterval: "30m", resultTtl: "45m" } })
        .freshness,
    ).to.deep.equal({
      challengeTtlMs: 90_000,
      reattestIntervalMs: 1_800_000,
      resultTtlMs: 2_700_000,
    });
  });
});

describe("resultStands", () => {
  it("stands for an unexpired affirming result", () => {
    expect(
      resultStands(
        withStatus({ attestation: { verdict: "affirming", verifiedAt: at(-1), expiresAt: at(60) } }),
        NOW,
      ),
    ).to.include({ ok: true, reason: "Affirming" });
  });
  it("stands, with warnings, for a tolerated result", () => {
    expect(
      resultStands(
        withStatus({ attestation: { verdict: "warning", verifiedAt: at(-1), expiresAt: at(60) } }),
        NOW,
      ),
    ).to.include({ ok: true, reason: "AffirmingWithWarnings" });
  });
  it("stands with the tolerated warnings named in its message (stale collateral served within the grace)", () => {
    const attestation = {
      verdict: "warning" as const,
      verifiedAt: at(-1),
      expiresAt: at(60),
      warnings: [{ code: "CollateralStale", message: "TCB info passed its nextUpdate" }],
    };
    const stands = resultStands(withStatus({ attestation }), NOW);
    expect(stands).to.include({ ok: true, reason: "AffirmingWithWarnings" });
    expect(stands.message).to.match(/; CollateralStale: TCB info passed its nextUpdate$/);
  });
  it("falls for a warning the policy does not tolerate (MeasurementsUnpinned)", () => {
    const attestation = {
      verdict: "warning" as const,
      verifiedAt: at(-1),
      expiresAt: at(60),
      violations: [{ code: "MeasurementsUnpinned", message: "pins nothing" }],
    };
    expect(resultStands(withStatus({ attestation }), NOW)).to.include({
      ok: false,
      reason: "MeasurementsUnpinned",
    });
  });
  it("falls, InstanceChanged, when another VM instance runs than the one that answered (restart, relaunch)", () => {
    const attestation = {
      verdict: "affirming" as const,
      verifiedAt: at(-1),
      expiresAt: at(60),
      vmInstanceUid: "vmi-1",
    };
    expect(resultStands(withStatus({ attestation, vmInstanceUid: "vmi-1" }), NOW)).to.include({ ok: true });
    const restarted = withStatus({ attestation, vmInstanceUid: "vmi-2" });
    expect(resultStands(restarted, NOW)).to.include({ ok: false, reason: "InstanceChanged" });
    const step = nextAttestationStep(restarted, fresh, NOW);
    expect(step.kind).to.equal("challenge");
    expect(step.kind === "challenge" ? step.why : "").to.include("the VM instance changed");
  });
  it("falls when the result expired", () => {
    expect(
      resultStands(
        withStatus({ attestation: { verdict: "affirming", verifiedAt: at(-121), expiresAt: at(-1) } }),
        NOW,
      ),
    ).to.include({ ok: false, reason: "ResultExpired" });
  });
  it("falls with the first violation's code for a contraindicated result, listing every violation", () => {
    const result = resultStands(
      withStatus({
        attestation: {
          verdict: "contraindicated",
          violations: [
            { code: "BindingMismatch", message: "a" },
            { code: "PolicyViolation", message: "b" },
          ],
        },
      }),
      NOW,
    );
    expect(result).to.deep.equal({
      ok: false,
      reason: "BindingMismatch",
      message: "BindingMismatch: a; PolicyViolation: b",
    });
  });
});

describe("re-attestation when the host's report of the VM's GPUs changes", () => {
  const appraised = (gpuAllocation: NonNullable<ConfidentialVMStatus["attestation"]>["gpuAllocation"]) => ({
    verifiedAt: at(-5),
    expiresAt: at(60),
    verdict: "affirming" as const,
    nonce: NONCE,
    policyName: "inline",
    gpuAllocation,
  });
  const observed = { state: "Observed" as const, message: "reported" };
  const gpus = [{ pciAddress: "0000:2a:00.0", model: "H100" }];
  const cases: [string, ConfidentialVMStatus, string][] = [
    [
      "challenges once the allocation is known (the result named none)",
      { gpus, gpuAllocation: observed, attestation: appraised({ state: "Pending" }) },
      "the GPUs allocated to the VM are known now (0000:2a:00.0; the result was appraised with them Pending)",
    ],
    [
      "challenges when the host reports other GPUs than the result names",
      {
        gpus,
        gpuAllocation: observed,
        attestation: appraised({ state: "Observed", pciAddresses: ["0000:18:00.0"] }),
      },
      "the GPUs allocated to the VM changed (0000:18:00.0 → 0000:2a:00.0)",
    ],
    [
      "challenges when the host's report is refused since (fail closed)",
      {
        gpus: [{ model: "H100" }],
        gpuAllocation: { state: "Refused", message: "GPU 0000:c1:00.0 is not listed" },
        attestation: appraised({ state: "Observed", pciAddresses: ["0000:2a:00.0"] }),
      },
      "the host's GPU allocation is refused since the last result: GPU 0000:c1:00.0 is not listed",
    ],
  ];
  for (const [what, status, why] of cases)
    it(what, () => {
      expect(nextAttestationStep(withStatus(status), fresh, NOW)).to.deep.equal({ kind: "challenge", why });
    });

  it("waits when the result names the GPUs the host reports, or the allocation stays unknown", () => {
    const same = {
      gpus,
      gpuAllocation: observed,
      attestation: appraised({ state: "Observed", pciAddresses: ["0000:2a:00.0"] }),
    };
    expect(nextAttestationStep(withStatus(same), fresh, NOW).kind).to.equal("wait");
    const unknown = {
      gpus: [{ model: "H100" }],
      gpuAllocation: { state: "Unknown" as const, message: "no PodResources" },
      attestation: appraised({ state: "Unknown", message: "no PodResources" }),
    };
    expect(nextAttestationStep(withStatus(unknown), fresh, NOW).kind).to.equal("wait");
    expect(resultStands(withStatus(unknown), NOW)).to.deep.include({
      ok: true,
      reason: "Affirming",
      message: `attested at ${at(-5)}, valid until ${at(60)}; GPU allocation Unknown: the result names no PCI addresses (no PodResources)`,
    });
  });
});
