import { expect } from "chai";
import { admissionResponse, parseAdmissionReview } from "./admission-review.ts";

const UID = "705ab4f5-6393-11e8-b7cc-42010a800002";

function review(request: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request };
}

const POD_REQUEST = {
  uid: UID,
  kind: { group: "", version: "v1", kind: "Pod" },
  resource: { group: "", version: "v1", resource: "pods" },
  requestKind: { group: "", version: "v1", kind: "Pod" },
  name: "web-0",
  namespace: "team-a",
  operation: "CREATE",
  userInfo: { username: "admin" },
  object: { metadata: { name: "web-0" } },
  oldObject: null,
  dryRun: true,
  options: { apiVersion: "meta.k8s.io/v1", kind: "CreateOptions" },
};

describe("parseAdmissionReview", () => {
  it("reads what the validators need from a real-shaped request", () => {
    expect(parseAdmissionReview(review(POD_REQUEST))).to.deep.equal({
      ok: true,
      request: {
        uid: UID,
        kind: { group: "", version: "v1", kind: "Pod" },
        resource: { group: "", version: "v1", resource: "pods" },
        name: "web-0",
        namespace: "team-a",
        operation: "CREATE",
        object: { metadata: { name: "web-0" } },
        oldObject: null,
        dryRun: true,
      },
    });
  });

  const malformed: Record<string, { body: unknown; uid?: string; error: string }> = {
    "a JSON array": { body: [], error: "the body is not a JSON object" },
    null: { body: null, error: "the body is not a JSON object" },
    "another API version": {
      body: { apiVersion: "admission.k8s.io/v1beta1", kind: "AdmissionReview", request: POD_REQUEST },
      error:
        'expected an admission.k8s.io/v1 AdmissionReview, got "admission.k8s.io/v1beta1" "AdmissionReview"',
    },
    "no request": {
      body: { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview" },
      error: "the AdmissionReview has no request",
    },
    "no uid": { body: review({ ...POD_REQUEST, uid: "" }), error: "the AdmissionReview request has no uid" },
    "no kind (uid kept for the answer)": {
      body: review({ ...POD_REQUEST, kind: "Pod" }),
      uid: UID,
      error: "request.kind is missing",
    },
    "no resource": {
      body: review({ ...POD_REQUEST, resource: null }),
      uid: UID,
      error: "request.resource is missing",
    },
    "an unknown operation": {
      body: review({ ...POD_REQUEST, operation: "PATCH" }),
      uid: UID,
      error: 'request.operation "PATCH" is unknown',
    },
    "an object that is a string": {
      body: review({ ...POD_REQUEST, object: "pod" }),
      uid: UID,
      error: "request.object is not an object",
    },
    "an oldObject that is an array": {
      body: review({ ...POD_REQUEST, oldObject: [] }),
      uid: UID,
      error: "request.oldObject is not an object",
    },
  };
  for (const [name, c] of Object.entries(malformed)) {
    it(`rejects ${name} with a clear error`, () => {
      expect(parseAdmissionReview(c.body)).to.deep.equal({
        ok: false,
        ...(c.uid === undefined ? {} : { uid: c.uid }),
        error: c.error,
      });
    });
  }
});

describe("admissionResponse", () => {
  it("echoes the uid and allows without a status", () => {
    expect(admissionResponse(UID, { allowed: true })).to.deep.equal({
      apiVersion: "admission.k8s.io/v1",
      kind: "AdmissionReview",
      response: { uid: UID, allowed: true },
    });
  });

  it("denies with the code, its reason and the message; passes warnings", () => {
    expect(
      admissionResponse(UID, { allowed: false, code: 503, message: "starting", warnings: ["w"] }),
    ).to.deep.equal({
      apiVersion: "admission.k8s.io/v1",
      kind: "AdmissionReview",
      response: {
        uid: UID,
        allowed: false,
        status: { code: 503, message: "starting", reason: "ServiceUnavailable" },
        warnings: ["w"],
      },
    });
    expect(admissionResponse(UID, { allowed: false }).response.status).to.deep.equal({
      code: 403,
      message: "denied by trustgate",
      reason: "Forbidden",
    });
  });
});
