import { expect } from "chai";
import type { ConfidentialVM } from "../../api/v1alpha1/generated/types.ts";
import { hostTcbDriftCondition } from "./tcb-drift.ts";

function cvm(name: string, drift?: "True" | "False"): ConfidentialVM {
  return {
    apiVersion: "trustgate.io/v1alpha1",
    kind: "ConfidentialVM",
    metadata: { name, namespace: "ml" },
    spec: { tee: "tdx", policyRef: "p" },
    status: {
      nodeName: "gpu-1",
      conditions:
        drift === undefined
          ? []
          : [
              {
                type: "TcbDriftSoon",
                status: drift,
                reason: drift === "True" ? "TcbDriftSoon" : "NoTcbDrift",
                message: drift === "True" ? "TCB evaluation 19 rates this TD OutOfDate" : "no drift",
                lastTransitionTime: "2026-12-07T00:00:00Z",
              },
            ],
    },
  } as unknown as ConfidentialVM;
}

describe("hostTcbDriftCondition", () => {
  const cases: [string, ConfidentialVM[], { status: string; reason: string; message: string } | undefined][] =
    [
      ["no CVMs", [], undefined],
      ["CVMs never rated (SNP, or no early collateral)", [cvm("a"), cvm("b")], undefined],
      [
        "rated, none drifting",
        [cvm("a", "False"), cvm("b")],
        {
          status: "False",
          reason: "NoTcbDrift",
          message: "Intel's next TCB evaluation rates none of the 1 rated TDs on this host worse",
        },
      ],
      [
        "one of two drifting, named first by key",
        [cvm("b", "True"), cvm("a", "False")],
        {
          status: "True",
          reason: "TcbDriftSoon",
          message: "1 of 2 rated TDs on this host: ml/b: TCB evaluation 19 rates this TD OutOfDate",
        },
      ],
    ];
  for (const [name, cvms, expected] of cases) {
    it(name, () => {
      const condition = hostTcbDriftCondition(cvms);
      expect(
        condition === undefined
          ? undefined
          : { status: condition.status, reason: condition.reason, message: condition.message },
      ).to.deep.equal(expected);
    });
  }
});
