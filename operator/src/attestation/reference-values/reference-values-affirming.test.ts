/**
 * A policy from `reference-values` makes a boot `affirming` through the one appraisal path the controller runs: the
 * real GCP CCEL with a quote of the simulated TDX platform whose RTMRs are that log's (so REPORTDATA can bind a guest
 * key of ours, which no third-party quote can), verified by the real TDX verifier against the simulated Intel PKI.
 */
import { expect } from "chai";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { parse } from "yaml";
import type { ConfidentialVMStatusEvidencePublicKey } from "../../api/v1alpha1/generated/types.ts";
import { gcpCcel, gcpQuoteRtmrs } from "../../../test/support/evidence/gcp-ccel.ts";
import { appraise, type AttestationBackends } from "../appraise.ts";
import { expectedReportData } from "../binding.ts";
import { compilePolicy, type CompiledPolicy } from "../policy/compiled-policy.ts";
import { simulatedCollateralSource } from "../simulated/collateral-routes.ts";
import { generateSimPki } from "../simulated/sim-pki.ts";
import { SimulatedTdxTee } from "../simulated/simulated-tdx.ts";
import { appraiseTdx } from "../tdx/appraise-tdx.ts";
import { createTdxVerifier } from "../tdx/verifier.ts";
import type { EvidenceBundle } from "../types.ts";
import { renderTdxReferencePolicy } from "./render-policy.ts";
import { tdxReferenceValuesFromBundle } from "./tdx-reference-values.ts";

describe("a reference-values policy on a bound bundle with the real GCP event log", function () {
  this.timeout(60_000);
  const nonce = randomBytes(32).toString("hex");
  const publicKey = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({
    format: "jwk",
  }) as ConfidentialVMStatusEvidencePublicKey;
  let bundle: EvidenceBundle;
  let backends: AttestationBackends;
  let policyText: string;

  before(async () => {
    const pki = await generateSimPki();
    if (pki.intel === undefined) throw new Error("no simulated Intel CA");
    const rtmrs = gcpQuoteRtmrs() as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
    const tee = await new SimulatedTdxTee(pki, { rtmrs }).collect(
      await expectedReportData(nonce, publicKey),
      {
        machine: "node-a",
      },
    );
    bundle = { nonce, publicKey, tee: { ...tee, eventLog: Buffer.from(gcpCcel()).toString("base64") } };
    const anchors = { root: pki.intel.root, tcbSigningCertificates: [pki.intel.tcbSigner.certificate] };
    backends = {
      tees: { tdx: { verifier: createTdxVerifier({ anchors }), appraise: appraiseTdx } },
      collateral: simulatedCollateralSource(pki),
    };
    policyText = renderTdxReferencePolicy(tdxReferenceValuesFromBundle(bundle), "bound-boot", "bundle.json");
  });

  const compiled = (yaml: string): CompiledPolicy => {
    const result = compilePolicy(parse(yaml));
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    return result.policy;
  };

  it("verifies affirming with the challenge enforced", async () => {
    const report = await appraise(bundle, compiled(policyText), { now: new Date(), backends, nonce });
    expect(report.tee.errors).to.deep.equal([]);
    expect(report.policy.violations).to.deep.equal([]);
    expect(report.warnings).to.deep.equal([]);
    expect(report.tee.binding).to.equal("match");
    expect(report.tee.claims["eventLog"]).to.equal("replayed");
    expect(report.verdict).to.equal("affirming");
  });

  it("one changed command-line character: contraindicated, naming the command-line event", async () => {
    const report = await appraise(bundle, compiled(policyText.replace("loglevel=7", "loglevel=8")), {
      now: new Date(),
      backends,
      nonce,
    });
    expect(report.verdict).to.equal("contraindicated");
    expect(report.policy.violations.map((violation) => violation.field)).to.deep.equal([
      "spec.tdx.events.cmdline",
    ]);
    expect(report.policy.violations[0]?.message).to.match(/event 40 \(EV_IPL "kernel_cmdline: /);
  });

  it("the same policy refuses the bundle without its event log (fails closed) and with another log", async () => {
    const bare = { ...bundle, tee: { ...bundle.tee } };
    delete bare.tee.eventLog;
    const withoutLog = await appraise(bare, compiled(policyText), { now: new Date(), backends, nonce });
    expect(withoutLog.verdict).to.equal("contraindicated");
    expect(withoutLog.policy.violations.map((violation) => violation.field)).to.include.members([
      "spec.tdx.events.kernel",
      "spec.tdx.events.cmdline",
      "spec.tdx.unknownEvents",
    ]);
    const truncated = {
      ...bundle,
      tee: { ...bundle.tee, eventLog: Buffer.from(gcpCcel().subarray(0, 17995)).toString("base64") },
    };
    const otherLog = await appraise(truncated, compiled(policyText), { now: new Date(), backends, nonce });
    expect(otherLog.verdict).to.equal("contraindicated");
    expect(otherLog.tee.errors.map((error) => error.code)).to.deep.equal(["EventLogMismatch"]);
  });
});
