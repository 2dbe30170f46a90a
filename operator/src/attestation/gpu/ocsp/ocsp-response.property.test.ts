import { expect } from "chai";
import fc from "fast-check";
import { X509Certificate } from "node:crypto";
import { generateNvidiaHierarchy, issueNvidiaDevice } from "../../simulated/nvidia-pki.ts";
import { issueOcspResponder, ocspResponse } from "../../simulated/nvidia-ocsp.ts";
import { parsePemCertificates } from "../../../crypto/pem.ts";
import { EvidenceError } from "../../types.ts";
import { checkOcspWindow, parseOcspResponse, verifyOcspResponse } from "./ocsp-response.ts";

const ca = generateNvidiaHierarchy();
const device = issueNvidiaDevice({
  root: ca.root.certificate,
  identity: ca.identity.certificate,
  ica: ca.ica,
});
const brom = new X509Certificate(parsePemCertificates(device.chainPem, "chain")[1] ?? new Uint8Array());
const now = new Date();
const sample = ocspResponse({
  certificate: brom,
  issuer: ca.ica.certificate,
  signer: issueOcspResponder(ca.ica),
  status: { status: "good" },
  thisUpdate: new Date(now.getTime() - 3600_000),
  nextUpdate: new Date(now.getTime() + 3600_000),
});

/** Parse and verify either give an answer or throw an EvidenceError: nothing else escapes, nothing passes unsigned. */
function outcome(bytes: Uint8Array): "good" | "rejected" | "other" {
  try {
    const answer = verifyOcspResponse(parseOcspResponse(bytes), brom, ca.ica.certificate);
    checkOcspWindow(answer, now);
    return answer.status === "good" ? "good" : "other";
  } catch (error) {
    return error instanceof EvidenceError ? "rejected" : "other";
  }
}

describe("OCSP response parser and verifier (properties)", () => {
  it("the untouched sample verifies", () => {
    expect(outcome(sample)).to.equal("good");
  });

  it("never throws anything but an EvidenceError on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => outcome(bytes) === "rejected"),
      { numRuns: 3000 },
    );
  });

  it("any single changed byte is rejected or still the same signed statement; truncation is always rejected", () => {
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 1, max: 255 }), fc.nat(), (at, xor, cut) => {
        const changed = Uint8Array.from(sample);
        const index = at % changed.length;
        changed[index] = (changed[index] ?? 0) ^ xor;
        const truncated = sample.subarray(0, cut % sample.length);
        // A flip in the unsigned wrapper (e.g. the responder certificate's own bytes) may leave it verifiable.
        return outcome(changed) !== "other" && outcome(truncated) === "rejected";
      }),
      { numRuns: 1500 },
    );
  });
});
