import { expect } from "chai";
import { apiErrorFromResponse, isConflict, isNotFound, KubeApiError } from "./rest-api-error.ts";

const status = (code: number, reason: string, message: string) =>
  JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Failure", code, reason, message });

describe("agent Kubernetes API errors", () => {
  it("takes code, reason and message from the Status body", () => {
    const message = 'confidentialhosts.trustgate.io "n1" not found';
    const error = apiErrorFromResponse("GET /x", 404, "Not Found", status(404, "NotFound", message));
    expect(error).to.be.instanceOf(KubeApiError);
    expect({ code: error.code, reason: error.reason, message: error.message }).to.deep.equal({
      code: 404,
      reason: "NotFound",
      message,
    });
    expect(isNotFound(error)).to.equal(true);
    expect(isConflict(error)).to.equal(false);
  });

  it("tells AlreadyExists and Conflict apart by reason while both are 409", () => {
    const exists = apiErrorFromResponse("POST /x", 409, "Conflict", status(409, "AlreadyExists", "exists"));
    expect(exists).to.deep.include({ code: 409, reason: "AlreadyExists" });
    expect(isConflict(exists)).to.equal(true);
  });

  it("describes an answer without a Status (e.g. from a proxy) from the HTTP status", () => {
    const error = apiErrorFromResponse("PATCH /x/status", 503, "Service Unavailable", "<html>down</html>");
    expect(error).to.deep.include({ code: 503, reason: "ServiceUnavailable" });
    expect(error.message).to.equal("PATCH /x/status: HTTP 503 Service Unavailable: <html>down</html>");
    expect(apiErrorFromResponse("GET /x", 418, "I'm a teapot", "")).to.deep.include({
      reason: "Unknown",
      message: "GET /x: HTTP 418 I'm a teapot",
    });
  });

  it("does not take other errors for API answers", () => {
    expect(isNotFound(new Error("404"))).to.equal(false);
    expect(isConflict({ code: 409 })).to.equal(false);
  });
});
