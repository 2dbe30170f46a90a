import { expect } from "chai";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  deriveTcbInfo,
  earlySource,
  signedBody,
  tcbSigningChain,
} from "../../../test/support/fakes/early-tcb-evaluation.ts";
import { fakeCollateral, fakeEvidence, fakePki, issue } from "../../../test/support/fakes/intel-pki.ts";
import {
  check,
  codes,
  needsPceSvn13,
  recovery18,
  upToDateTd,
} from "../../../test/support/evidence/tdx-drift-setups.ts";
import { tdxTeeFromItem } from "../../../test/support/evidence/tdx-bundle-from-item.ts";
import { FIXTURE_TDX_DIR, SHARED_TDX_DIR } from "../../../test/fixtures/tdx/items.ts";
import { checkTcbDrift } from "./tcb-drift-check.ts";

const sixteen = (...head: number[]): number[] => [...head, ...Array<number>(16 - head.length).fill(0)];

describe("checkTcbDrift against forged early collateral (attacker)", function () {
  this.timeout(20_000);

  it("early TCB info signed by an impostor TCB Signing key under another root: no warning, nothing at all", async () => {
    const setup = upToDateTd();
    const otherRoot = issue("Intel SGX Root CA", undefined, { ca: true });
    const impostor = issue("Intel SGX TCB Signing", otherRoot, { ca: false });
    const source = earlySource({
      fmspc: setup.fmspc,
      tcbInfo: signedBody("tcbInfo", deriveTcbInfo(setup.tcbInfo, recovery18(needsPceSvn13)), impostor),
      issuerChain: tcbSigningChain({ ...setup.pki, root: otherRoot }, impostor),
    });
    const result = await check(setup, source);
    expect(result.drift).to.equal(undefined);
    expect(codes(result)).to.deep.equal(["ChainInvalid", "SignatureInvalid"]);
  });

  it("early TCB info signed by a TCB Signing certificate on the root CA CRL: no result", async () => {
    const setup = upToDateTd();
    const revokedSigner = issue("Intel SGX TCB Signing", setup.pki.root, { ca: false });
    const real = tdxTeeFromItem(join(SHARED_TDX_DIR, "dcapqvl-uptodate-v4"));
    const evidence = fakeEvidence(
      setup.pki,
      real,
      fakeCollateral(setup.pki, real.collateral ?? {}, { root: [revokedSigner] }),
    );
    const source = earlySource({
      fmspc: setup.fmspc,
      tcbInfo: signedBody("tcbInfo", deriveTcbInfo(setup.tcbInfo, recovery18(needsPceSvn13)), revokedSigner),
      issuerChain: tcbSigningChain(setup.pki, revokedSigner),
    });
    const result = await check({ ...setup, evidence }, source);
    expect(result.drift).to.equal(undefined);
    expect(codes(result)).to.deep.equal(["CertificateRevoked"]);
  });

  it("under Intel's real anchors and real evidence: an early TCB info from a test PKI is refused", async () => {
    const evidence = tdxTeeFromItem(join(FIXTURE_TDX_DIR, "dcapqvl-uptodate-v4"));
    const attacker = fakePki("b0c06f000000", sixteen(3, 3, 2, 2, 4, 1, 0, 5), 11);
    const tcbInfo = deriveTcbInfo(evidence.collateral?.tcbInfo ?? "", recovery18(needsPceSvn13));
    const result = await checkTcbDrift(evidence, {
      now: new Date("2025-07-01T00:00:00Z"),
      early: earlySource({
        fmspc: "b0c06f000000",
        tcbInfo: signedBody("tcbInfo", tcbInfo, attacker.tcbSigner),
        issuerChain: tcbSigningChain(attacker),
      }),
    });
    expect(result.drift).to.equal(undefined);
    expect(codes(result)).to.deep.equal(["ChainInvalid", "SignatureInvalid"]);
  });

  it("under Intel's real anchors: Intel's evaluation-17 text altered to an evaluation 18, Intel's signature kept", async () => {
    const evidence = tdxTeeFromItem(join(FIXTURE_TDX_DIR, "dcapqvl-uptodate-v4"));
    const collateral = evidence.collateral ?? {};
    const altered = deriveTcbInfo(collateral.tcbInfo ?? "", recovery18(needsPceSvn13));
    const result = await checkTcbDrift(evidence, {
      now: new Date("2025-07-01T00:00:00Z"),
      early: earlySource({
        fmspc: "b0c06f000000",
        tcbInfo: `{"tcbInfo":${altered},"signature":"${collateral.tcbInfoSignature ?? ""}"}`,
        ...(collateral.tcbInfoIssuerChain === undefined
          ? {}
          : { issuerChain: collateral.tcbInfoIssuerChain }),
      }),
    });
    expect(result.drift).to.equal(undefined);
    expect(codes(result)).to.deep.equal(["SignatureInvalid"]);
  });
});

describe("checkTcbDrift on real Intel-signed collateral only", function () {
  this.timeout(20_000);

  // The only same-FMSPC pair in the evidence: two Intel TCB infos for 90c06f000000, both evaluation 18
  // (google-v5-sample issued 2026-02-01, dcapqvl-v5-no-tcb-level issued 2026-02-18).
  it("google-v5-sample's TD, standard = dcap-qvl's 2026-02-18 collateral, early = Google's 2026-02-01 TCB info: no drift", async () => {
    const google = tdxTeeFromItem(join(SHARED_TDX_DIR, "google-v5-sample"));
    const dcapQvl = tdxTeeFromItem(join(SHARED_TDX_DIR, "dcapqvl-v5-no-tcb-level"));
    const googleBody = readFileSync(join(SHARED_TDX_DIR, "google-v5-sample/tcb_info.json"), "utf8");
    const chain = readFileSync(
      join(SHARED_TDX_DIR, "google-v5-sample/tcb_info_issuer_chain_2025.pem"),
      "utf8",
    );
    const result = await checkTcbDrift(
      { ...google, collateral: dcapQvl.collateral ?? {} },
      {
        now: new Date("2026-02-20T00:00:00Z"),
        early: earlySource({ fmspc: "90c06f000000", tcbInfo: googleBody, issuerChain: chain }),
      },
    );
    expect(result.errors).to.deep.equal([]);
    expect(result.drift).to.deep.include({ drifting: false, compared: true });
    expect(result.drift?.current).to.deep.equal({
      status: "UpToDate",
      evaluationDataNumber: 18,
      advisoryIds: [],
    });
    expect(result.drift?.coming).to.deep.equal({
      status: "UpToDate",
      evaluationDataNumber: 18,
      advisoryIds: [],
    });
    expect(result.drift?.reason).to.equal(
      "Intel's early TCB evaluation 18 is not newer than the standard 18: nothing is coming",
    );
  });
});
