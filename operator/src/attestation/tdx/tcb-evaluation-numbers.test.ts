import { expect } from "chai";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { SHARED_TDX_DIR } from "../../../test/fixtures/tdx/items.ts";
import { expectedStandardFrom, verifyTcbEvaluationNumbers } from "./tcb-evaluation-numbers.ts";
import { intelTrustAnchors } from "./trust-anchors.ts";
import { VerificationMemo } from "./verification-memo.ts";

const body = (snapshot: string): string =>
  readFileSync(
    join(SHARED_TDX_DIR, `automata-00806f050000-v4/collateral_${snapshot}/tdx_tcb_eval_numbers.json`),
    "utf8",
  );
const verify = (text: string, at: string) =>
  verifyTcbEvaluationNumbers(text, undefined, intelTrustAnchors(), new VerificationMemo(), new Date(at));

describe("Intel's TDX TCB evaluation data numbers (real PCS responses, Intel-signed)", () => {
  it("the 2025-06 list verifies against Intel's pinned TCB Signing key and names 19, 18 and 17", () => {
    const { numbers, errors } = verify(body("2025-06"), "2025-06-20T00:00:00Z");
    expect(errors).to.deep.equal([]);
    expect(numbers?.id).to.equal("TDX");
    expect(numbers?.numbers.map((n) => n.evaluationDataNumber)).to.deep.equal([19, 18, 17]);
    expect(numbers?.numbers[0]?.tcbRecoveryEventDate.toISOString()).to.equal("2025-05-13T00:00:00.000Z");
    expect(numbers?.numbers[0]?.tcbDate.toISOString()).to.equal("2025-05-14T00:00:00.000Z");
  });

  it("the 2025-10 list names 20 down to 13; the standard is expected six weeks after each TCB recovery event", () => {
    const { numbers, errors } = verify(body("2025-10"), "2025-10-20T00:00:00Z");
    expect(errors).to.deep.equal([]);
    expect(numbers?.numbers.map((n) => n.evaluationDataNumber)).to.deep.equal([
      20, 19, 18, 17, 16, 15, 14, 13,
    ]);
    const expected = (n: number): string | undefined =>
      expectedStandardFrom(numbers, n)?.toISOString().slice(0, 10);
    expect([17, 18, 19, 20].map(expected)).to.deep.equal([
      "2024-04-23",
      "2024-12-24",
      "2025-06-24",
      "2025-09-23",
    ]);
    expect(expectedStandardFrom(numbers, 21)).to.equal(undefined);
  });

  it("a list altered after signing (a later recovery date for 19) is SignatureInvalid", () => {
    const altered = body("2025-06").replace("2025-05-13T00:00:00Z", "2025-09-13T00:00:00Z");
    expect(altered).to.not.equal(body("2025-06"));
    const { numbers, errors } = verify(altered, "2025-06-20T00:00:00Z");
    expect(numbers).to.equal(undefined);
    expect(errors.map((e) => e.code)).to.deep.equal(["SignatureInvalid"]);
  });

  it("after every pinned TCB Signing certificate has expired (2032-05-06) the list is not accepted", () => {
    const { numbers, errors } = verify(body("2025-10"), "2033-01-01T00:00:00Z");
    expect(numbers).to.equal(undefined);
    expect(errors.map((e) => e.code)).to.deep.equal(["CertificateExpired"]);
  });

  it("a body that is not a signed list is EvidenceMalformed", () => {
    const { numbers, errors } = verify('{"tcbInfo":{},"signature":"00"}', "2025-06-20T00:00:00Z");
    expect(numbers).to.equal(undefined);
    expect(errors.map((e) => e.code)).to.deep.equal(["EvidenceMalformed"]);
  });
});
