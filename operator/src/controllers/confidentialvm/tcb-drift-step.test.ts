import { expect } from "chai";
import pino from "pino";
import type { Condition, ConfidentialVM } from "../../api/v1alpha1/generated/types.ts";
import {
  early,
  needsPceSvn13,
  recovery18,
  upToDateTd,
} from "../../../test/support/evidence/tdx-drift-setups.ts";
import { withTcbDrift } from "./tcb-drift-step.ts";

const log = pino({ level: "silent" });
const attested: Condition = {
  type: "Attested",
  status: "True",
  reason: "Affirming",
  message: "ok",
  lastTransitionTime: "2025-07-01T00:00:00Z",
};
const stale: Condition = { ...attested, type: "TcbDriftSoon", reason: "TcbDriftSoon", message: "old" };

function cvmWith(tee: "tdx" | "snp", evidenceTee: unknown): ConfidentialVM {
  return {
    apiVersion: "trustgate.io/v1alpha1",
    kind: "ConfidentialVM",
    metadata: { name: "llm", namespace: "ml", generation: 1 },
    spec: { tee, policyRef: "p", image: { containerDisk: "registry.example/cvm@sha256:" + "0".repeat(64) } },
    status: { evidence: { tee: evidenceTee } },
  } as unknown as ConfidentialVM;
}

describe("withTcbDrift (the TcbDriftSoon condition on a CVM)", () => {
  it("sets TcbDriftSoon=True when Intel's early evaluation drops an affirmed TD, leaving Attested as it is", async () => {
    const setup = upToDateTd();
    const conditions = await withTcbDrift(
      cvmWith("tdx", setup.evidence),
      [attested],
      { verdict: "affirming" },
      { early: early(setup, recovery18(needsPceSvn13)), anchors: setup.pki.anchors },
      { log },
      setup.now,
    );
    expect(conditions.find((c) => c.type === "Attested")).to.deep.equal(attested);
    const drift = conditions.find((c) => c.type === "TcbDriftSoon");
    expect([drift?.status, drift?.reason]).to.deep.equal(["True", "TcbDriftSoon"]);
    expect(drift?.message).to.match(
      /TCB evaluation 18 .* rates this TD OutOfDate \(today UpToDate under evaluation 17\)/,
    );
  });

  const cleared: [string, () => Promise<Condition[]>][] = [
    [
      "an SNP CVM",
      async () => {
        const setup = upToDateTd();
        return withTcbDrift(
          cvmWith("snp", { type: "snp", report: "AA==" }),
          [attested, stale],
          { verdict: "affirming" },
          { early: early(setup, recovery18(needsPceSvn13)), anchors: setup.pki.anchors },
          { log },
          setup.now,
        );
      },
    ],
    [
      "a contraindicated TD",
      async () => {
        const setup = upToDateTd();
        return withTcbDrift(
          cvmWith("tdx", setup.evidence),
          [attested, stale],
          { verdict: "contraindicated" },
          { early: early(setup, recovery18(needsPceSvn13)), anchors: setup.pki.anchors },
          { log },
          setup.now,
        );
      },
    ],
    [
      "a controller without an early source",
      async () => {
        const setup = upToDateTd();
        return withTcbDrift(
          cvmWith("tdx", setup.evidence),
          [attested, stale],
          { verdict: "affirming" },
          undefined,
          { log },
          setup.now,
        );
      },
    ],
    [
      "an early TCB info signed by someone else (a forged warning)",
      async () => {
        const setup = upToDateTd();
        const impostor = upToDateTd();
        return withTcbDrift(
          cvmWith("tdx", setup.evidence),
          [attested, stale],
          { verdict: "affirming" },
          { early: early(impostor, recovery18(needsPceSvn13)), anchors: setup.pki.anchors },
          { log },
          setup.now,
        );
      },
    ],
  ];
  for (const [name, run] of cleared) {
    it(`says nothing (and removes an old TcbDriftSoon) for ${name}`, async () => {
      const conditions = await run();
      expect(conditions.map((c) => c.type)).to.deep.equal(["Attested"]);
    });
  }
});
