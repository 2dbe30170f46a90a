import { expect } from "chai";
import type { ConfidentialHostStatus } from "../api/v1alpha1/generated/types.ts";
import { SIGNED_STATUS_FIELDS } from "../host/host-report.ts";
import { KubeApiError } from "../kube/rest-api-error.ts";
import type { KubeJsonApi } from "../kube/rest-client.ts";
import {
  comparableReport,
  decidePublish,
  HostStatusPublisher,
  mergePatch,
  publishedReportOf,
  type PublishDecision,
  type PublishedReport,
  statusPatchBody,
} from "./publish.ts";

const MINUTE = 60_000;

function report(overrides: Partial<ConfidentialHostStatus> = {}): ConfidentialHostStatus {
  return {
    observedAt: "2026-11-25T10:00:00Z",
    agentVersion: "0.1.0",
    tee: { type: "tdx", enabled: true, moduleVersion: "1.5.06", details: { tdxKeys: "63" } },
    iommu: { enabled: true, vfioLoaded: true, groups: 15 },
    gpus: [{ pciAddress: "0000:18:00.0", vendorId: "0x10de", deviceId: "0x2330", ccMode: "on" }],
    gpuSummary: { total: 1, ccReady: 1 },
    report: { jws: "a.b.c", keyId: "key-1", publicKey: { kty: "EC", crv: "P-256", x: "x", y: "y" } },
    ...overrides,
  };
}

describe("publishing decisions", () => {
  const at = (iso: string, status = report({ observedAt: iso })) => ({
    comparable: comparableReport("n1", status),
    observedAtMs: Date.parse(iso),
  });

  describe("writes the first report, a changed host, and an unchanged one only once it is max-report-age old", () => {
    const previous = publishedReportOf("n1", report());
    const off = report({
      observedAt: "2026-11-25T10:01:00Z",
      gpus: [{ ...report().gpus![0]!, ccMode: "off" }],
    });
    const cases: Array<[string, PublishedReport | undefined, ReturnType<typeof at>, PublishDecision]> = [
      ["nothing written yet", undefined, at("2026-11-25T10:01:00Z"), { write: true, reason: "initial" }],
      [
        "unchanged, a minute later",
        previous,
        at("2026-11-25T10:01:00Z"),
        { write: false, reason: "unchanged" },
      ],
      [
        "unchanged, just under the age",
        previous,
        at("2026-11-25T10:09:59Z"),
        { write: false, reason: "unchanged" },
      ],
      ["unchanged, at the age", previous, at("2026-11-25T10:10:00Z"), { write: true, reason: "refresh" }],
      [
        "a GPU's CC mode changed",
        previous,
        at("2026-11-25T10:01:00Z", off),
        { write: true, reason: "changed" },
      ],
    ];
    for (const [name, written, next, expected] of cases) {
      it(name, () => {
        expect(decidePublish(written, next, 10 * MINUTE)).to.deep.equal(expected);
      });
    }
  });

  it("counts a new signing key or agent version as a change, but not the JWS bytes or conditions", () => {
    const base = comparableReport("n1", report());
    expect(comparableReport("n1", report({ report: { ...report().report!, keyId: "key-2" } }))).to.not.equal(
      base,
    );
    expect(comparableReport("n1", report({ agentVersion: "0.2.0" }))).to.not.equal(base);
    expect(comparableReport("n1", report({ report: { ...report().report!, jws: "d.e.f" } }))).to.equal(base);
    expect(comparableReport("n1", report({ conditions: [] }))).to.equal(base);
  });

  it("treats a stored status without report or with a bad observedAt as nothing written", () => {
    expect(publishedReportOf("n1", undefined)).to.equal(undefined);
    expect(publishedReportOf("n1", report({ report: undefined }))).to.equal(undefined);
    expect(publishedReportOf("n1", report({ observedAt: "yesterday" }))).to.equal(undefined);
  });
});

describe("status merge patch", () => {
  it("nulls members the new status no longer has, so the stored status is exactly what was signed", () => {
    expect(mergePatch({ a: 1, b: { c: 2, d: 3 } }, { b: { c: 2 } })).to.deep.equal({
      a: null,
      b: { c: 2, d: null },
    });
    expect(mergePatch({ list: [1, 2] }, { list: [3] })).to.deep.equal({ list: [3] });
  });

  it("patches only the agent's fields and leaves the controller's conditions alone", () => {
    const current = report({ conditions: [] });
    const next = report({ tee: { type: "tdx", enabled: true, details: {} } });
    const body = statusPatchBody(current, next) as { status: Record<string, unknown> };
    expect(body.status).to.not.have.property("conditions");
    expect(body.status["tee"]).to.deep.equal({
      type: "tdx",
      enabled: true,
      moduleVersion: null,
      details: { tdxKeys: null },
    });
    expect(body.status["platform"]).to.equal(null);
    expect(Object.keys(body.status)).to.have.members([...SIGNED_STATUS_FIELDS, "report"]);
  });
});

describe("host status publisher API calls", () => {
  const HOSTS = "/apis/trustgate.io/v1alpha1/confidentialhosts";
  const stored = { apiVersion: "trustgate.io/v1alpha1", kind: "ConfidentialHost", metadata: { name: "n1" } };
  const notFound = new KubeApiError(404, "NotFound", 'confidentialhosts.trustgate.io "n1" not found');
  const exists = new KubeApiError(409, "AlreadyExists", 'confidentialhosts.trustgate.io "n1" already exists');

  /** Answers each call with the next result (an Error is thrown) and records the calls. */
  function fakeApi(...results: unknown[]): KubeJsonApi & { calls: unknown[][] } {
    const calls: unknown[][] = [];
    const answer = (call: unknown[]) => {
      calls.push(call);
      const result = results.shift();
      return result instanceof Error ? Promise.reject(result) : Promise.resolve(result);
    };
    return {
      calls,
      get: (path) => answer(["GET", path]),
      post: (path, body) => answer(["POST", path, body]),
      mergePatch: (path, body) => answer(["PATCH", path, body]),
    };
  }

  it("reads an existing host and does not create it", async () => {
    const api = fakeApi(stored);
    expect(await new HostStatusPublisher(api, "n1").ensureHost()).to.deep.equal(stored);
    expect(api.calls).to.deep.equal([["GET", `${HOSTS}/n1`]]);
  });

  it("creates a missing host with an empty spec, and reads it when another writer was first", async () => {
    const created = fakeApi(notFound, stored);
    expect(await new HostStatusPublisher(created, "n1").ensureHost()).to.deep.equal(stored);
    expect(created.calls).to.deep.equal([
      ["GET", `${HOSTS}/n1`],
      ["POST", HOSTS, { ...stored, spec: {} }],
    ]);
    const raced = fakeApi(notFound, exists, stored);
    expect(await new HostStatusPublisher(raced, "n1").ensureHost()).to.deep.equal(stored);
    expect(raced.calls.map((call) => call[0])).to.deep.equal(["GET", "POST", "GET"]);
  });

  it("passes other API errors on", async () => {
    const forbidden = new KubeApiError(403, "Forbidden", "forbidden");
    let error: unknown;
    await new HostStatusPublisher(fakeApi(forbidden), "n1")
      .ensureHost()
      .catch((caught: unknown) => (error = caught));
    expect(error).to.equal(forbidden);
    await new HostStatusPublisher(fakeApi(notFound, forbidden), "n1")
      .ensureHost()
      .catch((caught: unknown) => (error = caught));
    expect(error).to.equal(forbidden);
  });

  it("merge-patches the status subresource with the patch body", async () => {
    const api = fakeApi({ ...stored, status: report() });
    const current = report({ conditions: [] });
    const next = report({ agentVersion: "0.2.0" });
    await new HostStatusPublisher(api, "n1").patchStatus(current, next);
    expect(api.calls).to.deep.equal([["PATCH", `${HOSTS}/n1/status`, statusPatchBody(current, next)]]);
  });
});
