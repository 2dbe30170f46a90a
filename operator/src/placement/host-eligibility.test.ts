import { expect } from "chai";
import type { AttestationPolicySpec, ConfidentialHost } from "../api/v1alpha1/generated/types.ts";
import { aConfidentialHost, anH100 } from "../../test/support/builders/confidential-host.ts";
import { compilePolicySpec } from "../attestation/policy/compiled-policy.ts";
import { evaluateHostEligibility } from "./host-eligibility.ts";

function validatedHost(overrides: Parameters<typeof aConfidentialHost>[0] = {}): ConfidentialHost {
  const host = aConfidentialHost(overrides);
  host.status = {
    ...host.status,
    conditions: [
      {
        type: "Validated",
        status: "True",
        reason: "HostValid",
        message: "",
        lastTransitionTime: "2026-11-25T10:00:00Z",
      },
    ],
  };
  return host;
}

describe("evaluateHostEligibility", () => {
  const cases: { name: string; host: ConfidentialHost; policy: AttestationPolicySpec; reasons: string[] }[] =
    [
      { name: "an empty policy accepts a validated host", host: validatedHost(), policy: {}, reasons: [] },
      {
        name: "an unvalidated host is refused with its validation message",
        host: aConfidentialHost({
          conditions: [
            {
              type: "Validated",
              status: "False",
              reason: "IOMMUNotReady",
              message: "IOMMU disabled",
              lastTransitionTime: "x",
            },
          ],
        }),
        policy: {},
        reasons: ["host not Validated: IOMMU disabled"],
      },
      {
        name: "BIOS and TDX module allow-lists",
        host: validatedHost(),
        policy: { host: { allowedBiosVersions: ["2.2"], allowedTdxModuleVersions: ["1.5.08"] } },
        reasons: ["BIOS 2.1 not in [2.2]", "TDX module 1.5.06.00.0744 not in [1.5.08]"],
      },
      {
        name: "microcode compared numerically",
        host: validatedHost({ platform: { microcode: "0x2b000603" } }),
        policy: { host: { minMicrocode: "0x2b000700" } },
        reasons: ["microcode 0x2b000603 below 0x2b000700"],
      },
      {
        name: "microcode at the minimum passes",
        host: validatedHost({ platform: { microcode: "0x2B000700" } }),
        policy: { host: { minMicrocode: "0x2b000700" } },
        reasons: [],
      },
      {
        name: "GPU CC mode and VBIOS per GPU",
        host: validatedHost({
          gpus: [anH100("0000:19:00.0", { ccMode: "devtools", vbiosVersion: "96.00.74.00.20" })],
        }),
        policy: { host: { requireGpuCcMode: "on", allowedVbiosVersions: ["96.00.9F.00.01"] } },
        reasons: [
          "GPU 0000:19:00.0 CC mode devtools, policy requires on",
          "GPU 0000:19:00.0 VBIOS 96.00.74.00.20 not in [96.00.9F.00.01]",
        ],
      },
      {
        name: "IOMMU required by default",
        host: validatedHost({ iommu: { enabled: false } }),
        policy: {},
        reasons: ["IOMMU required but disabled"],
      },
    ];
  for (const c of cases) {
    it(c.name, () => {
      const result = evaluateHostEligibility(c.host, compilePolicySpec(c.policy).host);
      expect(result.reasons).to.deep.equal(c.reasons);
      expect(result.eligible).to.equal(c.reasons.length === 0);
    });
  }
});
