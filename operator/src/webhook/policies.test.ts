import { expect } from "chai";
import type { AttestationPolicy, ConfidentialVM } from "../api/v1alpha1/generated/types.ts";
import type { AdmissionRequest } from "./admission-review.ts";
import { decideConfidentialVMAdmission, decidePolicyDeletion } from "./policies.ts";
import { aRequest, anAttestedCvm } from "../../test/support/builders/admission-requests.ts";

const POLICIES = new Map<string, AttestationPolicy>([
  [
    "production",
    {
      apiVersion: "trustgate.io/v1alpha1",
      kind: "AttestationPolicy",
      metadata: { name: "production" },
      spec: {},
    },
  ],
]);
const lookupPolicy = (name: string) => POLICIES.get(name);

function cvmObject(policyRef: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const cvm = anAttestedCvm("llm") as unknown as Record<string, unknown>;
  return {
    ...cvm,
    metadata: { name: "llm", namespace: "team-a", ...extra },
    spec: { tee: "snp", policyRef },
  };
}

describe("decideConfidentialVMAdmission", () => {
  const cases: Record<
    string,
    { request: AdmissionRequest; allowed: boolean; code?: number; message?: string }
  > = {
    "admits a CVM whose policy exists": {
      request: aRequest("ConfidentialVM", cvmObject("production")),
      allowed: true,
    },
    "refuses a CVM whose policy does not exist, naming it": {
      request: aRequest("ConfidentialVM", cvmObject("staging")),
      allowed: false,
      code: 403,
      message: 'trustgate: ConfidentialVM team-a/llm: spec.policyRef: AttestationPolicy "staging" not found',
    },
    "refuses a CVM without spec.policyRef as a bad request": {
      request: aRequest("ConfidentialVM", cvmObject(undefined)),
      allowed: false,
      code: 400,
      message: "trustgate: ConfidentialVM team-a/llm: spec.policyRef must name an AttestationPolicy",
    },
    "refuses an update that switches to a missing policy": {
      request: aRequest("ConfidentialVM", cvmObject("staging"), {
        operation: "UPDATE",
        oldObject: cvmObject("production"),
      }),
      allowed: false,
      code: 403,
    },
    "admits an update that keeps a policy that has since gone": {
      request: aRequest("ConfidentialVM", cvmObject("gone"), {
        operation: "UPDATE",
        oldObject: cvmObject("gone"),
      }),
      allowed: true,
    },
    "admits updates of a CVM being deleted (finalizer removal)": {
      request: aRequest("ConfidentialVM", cvmObject("gone2", { deletionTimestamp: "2026-11-25T09:00:00Z" }), {
        operation: "UPDATE",
        oldObject: cvmObject("gone"),
      }),
      allowed: true,
    },
    "admits CVM deletion": {
      request: aRequest("ConfidentialVM", null, { operation: "DELETE", oldObject: cvmObject("gone") }),
      allowed: true,
    },
  };
  for (const [name, c] of Object.entries(cases)) {
    it(name, () => {
      const decision = decideConfidentialVMAdmission(c.request, lookupPolicy);
      expect(decision.allowed).to.equal(c.allowed);
      if (c.code !== undefined) expect(decision.code).to.equal(c.code);
      if (c.message !== undefined) expect(decision.message).to.include(c.message);
    });
  }
});

describe("decidePolicyDeletion", () => {
  const users = (count: number): ConfidentialVM[] =>
    Array.from({ length: count }, (_, i) =>
      anAttestedCvm(`vm-${String(i).padStart(2, "0")}`, { namespace: i % 2 === 0 ? "team-a" : "team-b" }),
    );
  const deletion = aRequest("AttestationPolicy", null, {
    operation: "DELETE",
    oldObject: { metadata: { name: "production" } },
  });

  it("allows deleting a policy nothing references", () => {
    expect(decidePolicyDeletion(deletion, () => [])).to.deep.equal({ allowed: true });
  });

  it("refuses while one CVM references it, naming it", () => {
    expect(decidePolicyDeletion(deletion, () => users(1))).to.deep.equal({
      allowed: false,
      code: 403,
      message:
        'trustgate: AttestationPolicy "production" is still referenced by 1 ConfidentialVM: team-a/vm-00; ' +
        "delete them or change their spec.policyRef first",
    });
  });

  it("lists five of many, sorted, and counts the rest", () => {
    const decision = decidePolicyDeletion(deletion, () => users(8).reverse());
    expect(decision.message).to.include(
      "referenced by 8 ConfidentialVMs: team-a/vm-00, team-a/vm-02, team-a/vm-04, team-a/vm-06, team-b/vm-01 and 3 more;",
    );
  });

  it("asks the lookup about the policy being deleted, by request name or old object", () => {
    const asked: string[] = [];
    decidePolicyDeletion(deletion, (name) => (asked.push(name), []));
    decidePolicyDeletion({ ...deletion, name: "" }, (name) => (asked.push(name), []));
    expect(asked).to.deep.equal(["production", "production"]);
    const nameless = { ...deletion, name: "", oldObject: null };
    expect(decidePolicyDeletion(nameless, () => [])).to.include({ allowed: false, code: 400 });
  });

  it("does not care about creates and updates of policies", () => {
    const create = aRequest("AttestationPolicy", { metadata: { name: "p" } });
    expect(decidePolicyDeletion(create, () => users(3))).to.deep.equal({ allowed: true });
  });
});
