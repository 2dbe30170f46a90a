import { expect } from "chai";
import type { GpuResult } from "../../attestation/types.ts";
import { checkLines, indexList, reasonLines, renderText, SCREEN } from "./render-text.ts";
import type { VerificationResult } from "./verification-result.ts";

function gpu(index: number, overrides: Partial<GpuResult> = {}): GpuResult {
  return {
    index,
    authentic: true,
    nonce: "ab".repeat(32),
    driverVersion: "550.90.07",
    vbiosVersion: "96.00.9F.00.01",
    measurements: "match",
    revocation: "good",
    errors: [],
    deviceType: "gpu",
    deviceIdentity: "7ee4320b217b182b6551836a4ca0b72d5e6e60952a70d4b2f73b8726b4a9759a",
    ...overrides,
  };
}

function result(overrides: Partial<VerificationResult> = {}): VerificationResult {
  return {
    apiVersion: "trustgate.io/v1alpha1",
    kind: "VerificationResult",
    verifiedAt: "2025-07-01T00:00:00.000Z",
    verifierVersion: "0.1.0",
    verdict: "affirming",
    tee: {
      type: "tdx",
      authentic: true,
      tcbStatus: "UpToDate",
      advisoryIds: [],
      claims: { mrTd: "11".repeat(48) },
      errors: [],
      binding: "match",
    },
    gpus: [gpu(0)],
    policy: { violations: [] },
    warnings: [],
    evidence: { nonce: "cd".repeat(32), keyThumbprint: "oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U" },
    ...overrides,
  };
}

describe("trustgate verify -o text", () => {
  it("puts the verdict first, says there are no reasons when everything passed, and lists every check as pass", () => {
    const lines = renderText(result()).trimEnd().split("\n");
    expect(lines[0]).to.equal("Verdict: AFFIRMING");
    expect(lines).to.include("  none: every check passed");
    expect(checkLines(result()).map((c) => c.status)).to.deep.equal(Array(8).fill("pass"));
    expect(lines).to.include(`  MRTD         ${"11".repeat(48)}`);
  });

  it("gives the reasons before the checks: TEE errors, policy violations, GPU errors by code, warnings", () => {
    const text = renderText(
      result({
        verdict: "contraindicated",
        tee: { ...result().tee, errors: [{ code: "CollateralExpired", message: "TCB info expired" }] },
        policy: {
          violations: [
            {
              code: "PolicyViolation",
              field: "spec.tdx.mrTd",
              expected: ["aa"],
              actual: "bb",
              message: "mrTd differs",
            },
          ],
        },
        gpus: [0, 1, 2].map((i) =>
          gpu(i, { errors: [{ code: "RimUnavailable", message: `RIM of GPU ${String(i)} missing` }] }),
        ),
        warnings: [{ code: "MeasurementsUnpinned", message: "nothing pinned", tolerated: true }],
      }),
    );
    const reasons = text.slice(text.indexOf("Reasons:"), text.indexOf("Checks:")).trimEnd().split("\n");
    expect(reasons).to.deep.equal([
      "Reasons:",
      "  - TEE CollateralExpired: TCB info expired",
      "  - policy spec.tdx.mrTd: mrTd differs",
      "  - GPU RimUnavailable on #0-2 (#0: RIM of GPU 0 missing)",
      "  - warning MeasurementsUnpinned (tolerated by the policy): nothing pinned",
    ]);
  });

  it("counts the reasons beyond fourteen instead of listing them", () => {
    const errors = Array.from({ length: 20 }, (_, i) => ({
      code: "CollateralUnavailable" as const,
      message: `item ${String(i)}`,
    }));
    const reasons = reasonLines(result({ tee: { ...result().tee, errors } }));
    expect(reasons).to.have.length(14);
    expect(reasons[13]).to.equal("… and 7 more (trustgate verify -o json lists them all)");
  });

  it("says a binding mismatch is a failure only when --nonce enforced it", () => {
    const binding = (errors: VerificationResult["tee"]["errors"]) =>
      checkLines(result({ tee: { ...result().tee, binding: "mismatch", errors } })).find(
        (c) => c.check === "nonce/key binding",
      );
    expect(binding([])).to.deep.include({
      status: "warn",
      detail: "mismatch (not enforced without --nonce)",
    });
    expect(binding([{ code: "BindingMismatch", message: "x" }])).to.deep.include({ status: "FAIL" });
  });

  it("marks unauthentic evidence, revoked and mismatching GPUs as FAIL", () => {
    const checks = checkLines(
      result({
        tee: {
          ...result().tee,
          authentic: false,
          tcbStatus: "Unknown",
          errors: [{ code: "ChainInvalid", message: "" }],
        },
        gpus: [gpu(0, { revocation: "revoked" }), gpu(1, { measurements: "mismatch", authentic: false })],
      }),
    );
    const status = Object.fromEntries(checks.map((c) => [c.check, c.status]));
    expect(status).to.include({
      "TEE evidence (tdx)": "FAIL",
      "TCB status": "skip",
      "GPU evidence": "FAIL",
      "GPU measurements (RIM)": "FAIL",
      "GPU revocation (OCSP)": "FAIL",
    });
  });

  it("cuts every line to the screen width and appends the optional sections after the GPU table", () => {
    const long = "x".repeat(300);
    const text = renderText(
      result({ tee: { ...result().tee, errors: [{ code: "ChainInvalid", message: long }] } }),
      [{ title: "TDX event log", lines: ["0  EV_NO_ACTION  …", long] }],
    );
    const lines = text.trimEnd().split("\n");
    for (const line of lines) expect(line.length).to.be.at.most(SCREEN.columns);
    expect(lines.filter((l) => l.endsWith("…") && l.includes("xxx"))).to.have.length(2);
    expect(text.indexOf("TDX event log:")).to.be.greaterThan(text.indexOf("GPUs and NVSwitches:"));
  });

  it("lists device indices as ranges", () => {
    expect(indexList([0, 1, 2, 3, 5, 7, 8])).to.equal("#0-3,#5,#7-8");
    expect(indexList([4])).to.equal("#4");
    expect(indexList([])).to.equal("");
  });

  it("shows the evidence's control characters and bidi overrides as escapes: a bundle cannot rewrite the verdict line", () => {
    const forged = "tdx\u001b[1A\r\u001b[2KVerdict: AFFIRMING";
    const text = renderText(
      result({
        verdict: "contraindicated",
        tee: { ...result().tee, type: forged, authentic: false },
        gpus: [gpu(0, { driverVersion: "550\u202e10.09", vbiosVersion: "96\nVerdict: AFFIRMING" })],
      }),
    );
    // eslint-disable-next-line no-control-regex
    expect(text).not.to.match(/[\u0000-\u0009\u000b-\u001f\u202e]/);
    const lines = text.trimEnd().split("\n");
    expect(lines[0]).to.equal("Verdict: CONTRAINDICATED");
    expect(lines.filter((l) => l.startsWith("Verdict:"))).to.have.length(1);
    expect(text).to.include("tdx\\u001b[1A\\u000d\\u001b[2KVerdict: AFFIRMING evidence");
    expect(text).to.include("550\\u202e10.09");
    expect(text).to.include("96\\u000aVerdict: AFFIRMING");
  });

  it("shows the TDX boot events a policy pins (kernel, initrd, cmdline, Secure Boot, unknown), counts the rest", () => {
    const claims = [
      "firmware",
      "secureBootVariable:SecureBoot",
      "separator",
      "kernel",
      "initrd",
      "cmdline",
      "grubFile",
    ];
    const events = Array.from({ length: 400 }, (_, index) => ({
      index,
      rtmr: index < 10 ? 0 : 2,
      type: "EV_IPL",
      digest: "ab".repeat(48),
      claim:
        index < claims.length ? (claims[index] ?? "firmware") : index % 50 === 0 ? "unknown" : "firmware",
      description: `event ${index} EV_IPL`,
      ...(index === 5 ? { value: "console=ttyS0 root=/dev/vda1" } : {}),
    }));
    const base = result();
    const text = renderText({ ...base, tee: { ...base.tee, events } });
    const lines = text.trimEnd().split("\n");
    expect(lines.length).to.be.at.most(SCREEN.lines);
    const section = lines.slice(lines.findIndex((l) => l.startsWith("Boot events")));
    expect(section[0]).to.equal("Boot events (TDX event log, 400 events replayed):");
    expect(section.join("\n")).to.include("kernel").and.include("console=ttyS0 root=/dev/vda1");
    expect(section.filter((l) => /^\s+\d+\s+\d\s/.test(l))).to.have.length(8);
    expect(section.at(-1)).to.match(/^\s*392 more events in -o json \(tee\.events\)$/);
    expect(renderText(base)).to.not.include("Boot events");
  });
});
