import { expect } from "chai";
import type { Condition, ConfidentialVMStatus } from "../../api/v1alpha1/generated/types.ts";
import { CONFIDENTIAL_VM_SCHEMA } from "../../api/v1alpha1/generated/schemas.ts";
import {
  CONDITION_OWNERS,
  FIELD_OWNERS,
  ownedStatusPatch,
  StatusOwnershipError,
} from "./status-ownership.ts";

const condition = (type: string, status: Condition["status"]): Condition => ({
  type,
  status,
  reason: "R",
  message: "m",
  lastTransitionTime: "2025-07-01T12:00:00Z",
});
const current: ConfidentialVMStatus = {
  phase: "Attesting",
  nodeName: "gpu-node-1",
  conditions: [condition("Ready", "False"), condition("Attested", "False")],
};

describe("ConfidentialVM status ownership", () => {
  it("names one owner for every status field of the CRD", () => {
    const fields = Object.keys(CONFIDENTIAL_VM_SCHEMA.properties?.["status"]?.properties ?? {});
    expect([...Object.keys(FIELD_OWNERS), "conditions"].sort()).to.deep.equal(fields.sort());
  });

  it("gives the lifecycle phase, Ready, Deployed, HostValidated and KubeVirtReady and the handshake Attested and TcbDriftSoon", () => {
    expect(FIELD_OWNERS.phase).to.equal("lifecycle");
    expect(CONDITION_OWNERS).to.deep.equal({
      HostValidated: "lifecycle",
      Deployed: "lifecycle",
      Ready: "lifecycle",
      KubeVirtReady: "lifecycle",
      Attested: "handshake",
      TcbDriftSoon: "handshake",
    });
  });

  it("lets the handshake write the challenge and the Attested condition, and patches only what changes", () => {
    const next = {
      challenge: { nonce: "n", issuedAt: "a", expiresAt: "b" },
      conditions: [condition("Ready", "False"), condition("Attested", "True")],
      releasedSecrets: undefined,
    };
    expect(Object.keys(ownedStatusPatch("handshake", current, next)).sort()).to.deep.equal([
      "challenge",
      "conditions",
    ]);
  });

  it("refuses the handshake setting the phase", () => {
    expect(() => ownedStatusPatch("handshake", current, { phase: "Attested" })).to.throw(
      StatusOwnershipError,
      "handshake may not write status.phase",
    );
  });

  it("refuses the handshake setting Ready, even inside a conditions list it may write", () => {
    const conditions = [condition("Ready", "True"), condition("Attested", "True")];
    expect(() => ownedStatusPatch("handshake", current, { conditions })).to.throw(
      StatusOwnershipError,
      "handshake may not write condition(s) Ready",
    );
  });

  it("refuses the lifecycle setting Attested or the attestation result", () => {
    const conditions = [condition("Ready", "False"), condition("Attested", "True")];
    expect(() => ownedStatusPatch("lifecycle", current, { conditions })).to.throw(StatusOwnershipError);
    expect(() => ownedStatusPatch("lifecycle", current, { attestation: { verdict: "affirming" } })).to.throw(
      StatusOwnershipError,
      "lifecycle may not write status.attestation",
    );
  });

  it("lets a writer repeat a field it does not own unchanged, which patches nothing", () => {
    expect(
      ownedStatusPatch("handshake", current, { phase: "Attesting", nodeName: "gpu-node-1" }),
    ).to.deep.equal({});
  });

  it("clears a field with null only when it is set", () => {
    expect(ownedStatusPatch("lifecycle", current, { nodeName: null, gpus: null })).to.deep.equal({
      nodeName: null,
    });
  });
});
