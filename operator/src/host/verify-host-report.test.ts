import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { CompactSign } from "jose";
import { loadOrCreateAgentKey, signHostReport, type AgentKey } from "../agent/signing.ts";
import type { ConfidentialHostStatus } from "../api/v1alpha1/generated/types.ts";
import { hostReportPayload } from "./host-report.ts";
import { verifyHostReport } from "./verify-host-report.ts";

const status: ConfidentialHostStatus = {
  observedAt: "2026-11-25T10:00:00Z",
  agentVersion: "0.1.0",
  platform: { cpuVendor: "intel", microcode: "0x2b000603" },
  tee: { type: "tdx", enabled: true, moduleVersion: "1.5.06", details: { tdxKeys: "63" } },
  iommu: { enabled: true, vfioLoaded: true, groups: 15 },
  gpus: [{ pciAddress: "0000:18:00.0", vendorId: "0x10de", deviceId: "0x2330", ccMode: "on" }],
  gpuSummary: { total: 1, ccReady: 1 },
  conditions: [
    {
      type: "Validated",
      status: "True",
      reason: "Validated",
      message: "",
      lastTransitionTime: "2026-11-25T10:00:00Z",
    },
  ],
};

describe("verifyHostReport", () => {
  let dir: string;
  let key: AgentKey;
  let other: AgentKey;
  let signed: ConfidentialHostStatus;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "verify-"));
    key = (await loadOrCreateAgentKey(join(dir, "a.jwk"))).key;
    other = (await loadOrCreateAgentKey(join(dir, "b.jwk"))).key;
    signed = await signHostReport("gpu-node-1", status, key);
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("accepts the agent's report for its node, whatever the controller set in conditions", async () => {
    expect(await verifyHostReport("gpu-node-1", signed)).to.deep.equal({ ok: true, keyId: key.keyId });
    const relabelled = { ...signed, conditions: [] };
    expect((await verifyHostReport("gpu-node-1", relabelled)).ok).to.equal(true);
  });

  it("rejects a changed signed field", async () => {
    const tampered = structuredClone(signed);
    tampered.gpus![0]!.ccMode = "off";
    expect(await verifyHostReport("gpu-node-1", tampered)).to.deep.include({
      ok: false,
      code: "PayloadMismatch",
    });
    const added = structuredClone(signed);
    added.tee!.details!["extra"] = "x";
    expect(await verifyHostReport("gpu-node-1", added)).to.deep.include({
      ok: false,
      code: "PayloadMismatch",
    });
  });

  it("rejects another node's report", async () => {
    expect(await verifyHostReport("gpu-node-2", signed)).to.deep.include({
      ok: false,
      code: "NodeMismatch",
      reason: 'report was signed for node "gpu-node-1"',
    });
  });

  it("rejects a swapped public key, with or without a matching keyId", async () => {
    const swapped = structuredClone(signed);
    swapped.report!.publicKey = other.publicKey;
    expect(await verifyHostReport("gpu-node-1", swapped)).to.deep.include({
      ok: false,
      code: "KeyIdMismatch",
    });
    swapped.report!.keyId = other.keyId;
    expect(await verifyHostReport("gpu-node-1", swapped)).to.deep.include({
      ok: false,
      code: "KeyIdMismatch",
    });
  });

  it("rejects a report re-signed by another key under the original kid", async () => {
    const payload = new TextEncoder().encode(hostReportPayload("gpu-node-1", signed));
    const jws = await new CompactSign(payload)
      .setProtectedHeader({ alg: "ES256", kid: key.keyId, typ: "trustgate-host-report+jws" })
      .sign(other.privateKey);
    const forged = { ...signed, report: { ...signed.report!, jws } };
    expect(await verifyHostReport("gpu-node-1", forged)).to.deep.include({
      ok: false,
      code: "SignatureInvalid",
    });
  });

  it("rejects a missing report, a private key, a wrong typ and an unreadable JWS", async () => {
    expect(await verifyHostReport("gpu-node-1", status)).to.deep.include({ code: "ReportMissing" });
    const withPrivate = structuredClone(signed);
    (withPrivate.report!.publicKey as unknown as Record<string, string>)["d"] = "AAAA";
    expect(await verifyHostReport("gpu-node-1", withPrivate)).to.deep.include({ code: "PublicKeyInvalid" });
    const payload = new TextEncoder().encode(hostReportPayload("gpu-node-1", signed));
    const jwt = await new CompactSign(payload)
      .setProtectedHeader({ alg: "ES256", kid: key.keyId, typ: "JWT" })
      .sign(key.privateKey);
    expect(
      await verifyHostReport("gpu-node-1", { ...signed, report: { ...signed.report!, jws: jwt } }),
    ).to.deep.include({
      code: "HeaderInvalid",
    });
    expect(
      await verifyHostReport("gpu-node-1", { ...signed, report: { ...signed.report!, jws: "a.b.c" } }),
    ).to.deep.include({
      code: "HeaderInvalid",
    });
  });
});
