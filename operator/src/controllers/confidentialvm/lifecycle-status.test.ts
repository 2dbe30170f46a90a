import { expect } from "chai";
import type { ConfidentialVM } from "../../api/v1alpha1/generated/types.ts";
import { aConfidentialVM } from "../../../test/support/builders/confidential-vm.ts";
import { ofVm, placed } from "./lifecycle-status.ts";
import { nextStatus, type StatusUpdate } from "./status.ts";
import { ownedStatusPatch, statusAfterPatch } from "./status-ownership.ts";

const now = new Date("2025-07-01T12:00:00Z");
const placement = { nodeName: "gpu-node-1", gpus: [{ pciAddress: "0000:19:00.0", model: "H100-SXM5-80GB" }] };

/** The CVM as stored after the lifecycle wrote `update` (what the next pass sees), and that write's patch. */
function afterWrite(cvm: ConfidentialVM, update: StatusUpdate): [ConfidentialVM, Record<string, unknown>] {
  const patch = ownedStatusPatch("lifecycle", cvm.status ?? {}, nextStatus(cvm, update, now));
  const status = statusAfterPatch(cvm.status ?? {}, patch);
  return [{ ...cvm, status }, patch];
}

describe("ConfidentialVM lifecycle status writes", () => {
  const running = ofVm({ kind: "running", instanceUid: "vmi-uid-1" }, placement.nodeName);

  it("places a CVM with the status a starting VM keeps, so creating the VM costs no status write", () => {
    const [scheduled] = afterWrite(aConfidentialVM({ gpus: { count: 1 } }), placed(placement));
    const [, patch] = afterWrite(scheduled, ofVm({ kind: "starting", message: "" }, placement.nodeName));
    expect(patch).to.deep.equal({});
  });

  it("turns a running CVM Attested and Ready once the handshake set Attested with an unexpired result", () => {
    const [attesting] = afterWrite(aConfidentialVM({ gpus: { count: 1 } }), running);
    expect(attesting.status?.phase).to.equal("Attesting");
    const handshakeWrote: ConfidentialVM = {
      ...attesting,
      status: {
        ...attesting.status,
        attestation: { verdict: "affirming", expiresAt: "2025-07-01T14:00:00Z" },
        conditions: [
          ...(attesting.status?.conditions ?? []),
          { type: "Attested", status: "True", reason: "Affirming", message: "m", lastTransitionTime: "t" },
        ],
      },
    };
    const [attested, patch] = afterWrite(handshakeWrote, running);
    expect(Object.keys(patch).sort()).to.deep.equal(["conditions", "phase"]);
    expect(attested.status?.phase).to.equal("Attested");
    expect(attested.status?.conditions?.find((c) => c.type === "Ready")?.status).to.equal("True");
  });

  it("writes nothing for a running CVM whose status already says so", () => {
    const [attesting] = afterWrite(aConfidentialVM({ gpus: { count: 1 } }), running);
    expect(afterWrite(attesting, running)[1]).to.deep.equal({});
  });
});
