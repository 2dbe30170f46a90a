/**
 * Re-signed TDX setups for the TCB drift tests: a real evidence item whose quote, PCK chain and collateral are
 * re-signed under a test PKI (intel-pki.ts), and PCS `update=early` collateral derived from its real TCB info.
 */
import { join } from "node:path";
import type { CollateralSource, TeeEvidence } from "../../../src/attestation/types.ts";
import { checkTcbDrift, type TcbDriftCheck } from "../../../src/attestation/tdx/tcb-drift-check.ts";
import { VerificationMemo } from "../../../src/attestation/tdx/verification-memo.ts";
import { SHARED_TDX_DIR } from "../../fixtures/tdx/items.ts";
import { fakeCollateral, fakeEvidence, fakePki, type FakePki } from "../fakes/intel-pki.ts";
import {
  deriveTcbInfo,
  earlySource,
  signedBody,
  tcbRecovery,
  tcbSigningChain,
  type TcbInfoChange,
} from "../fakes/early-tcb-evaluation.ts";
import { tdxTeeFromItem } from "./tdx-bundle-from-item.ts";

const sixteen = (...head: number[]): number[] => [...head, ...Array<number>(16 - head.length).fill(0)];

/** The distinct error codes of a check, sorted. */
export const codes = (check: TcbDriftCheck): string[] => [...new Set(check.errors.map((e) => e.code))].sort();

/** Real evidence whose quote, PCK chain and collateral are re-signed under a test PKI (intel-pki.ts). */
export interface Resigned {
  pki: FakePki;
  evidence: TeeEvidence;
  /** Intel's real TCB info / QE identity texts of the item (the standard collateral, re-signed). */
  tcbInfo: string;
  qeIdentity: string;
  fmspc: string;
  now: Date;
}

export function resigned(
  item: string,
  fmspc: string,
  sgx: number[],
  pceSvn: number,
  now: string,
  snapshot?: string,
): Resigned {
  const real = tdxTeeFromItem(join(SHARED_TDX_DIR, item), snapshot === undefined ? {} : { snapshot });
  const pki = fakePki(fmspc, sixteen(...sgx), pceSvn);
  const evidence = fakeEvidence(pki, real, fakeCollateral(pki, real.collateral ?? {}));
  return {
    pki,
    evidence,
    tcbInfo: real.collateral?.tcbInfo ?? "",
    qeIdentity: real.collateral?.qeIdentity ?? "",
    fmspc,
    now: new Date(now),
  };
}

/** PCS `update=early` serving a derivation of the item's real TCB info, signed by the test TCB Signing key. */
export function early(
  setup: Resigned,
  change: TcbInfoChange,
  extra: { qeIdentity?: string } = {},
): CollateralSource {
  return earlySource({
    fmspc: setup.fmspc,
    tcbInfo: signedBody("tcbInfo", deriveTcbInfo(setup.tcbInfo, change), setup.pki.tcbSigner),
    ...(extra.qeIdentity === undefined
      ? {}
      : { qeIdentity: signedBody("enclaveIdentity", extra.qeIdentity, setup.pki.tcbSigner) }),
    issuerChain: tcbSigningChain(setup.pki),
  });
}

export const check = (setup: Resigned, source: CollateralSource): Promise<TcbDriftCheck> =>
  checkTcbDrift(setup.evidence, {
    now: setup.now,
    early: source,
    anchors: setup.pki.anchors,
    memo: new VerificationMemo(),
  });

/** Evaluation 18 as Intel's usual TCB recovery of the item's real evaluation 17 (see tcbRecovery). */
export const recovery18 = (raise: Parameters<typeof tcbRecovery>[0]): TcbInfoChange => ({
  evaluationDataNumber: 18,
  levels: tcbRecovery(raise),
});
/** A recovery needing PCESVN 13, as Intel's real evaluation 18 of FMSPC 90c06f000000 does. */
export const needsPceSvn13 = {
  tcbDate: "2024-11-13T00:00:00Z",
  advisoryIds: ["INTEL-SA-01036", "INTEL-SA-01079"],
  pceSvn: 13,
};

// The TD of dcapqvl-uptodate-v4: FMSPC b0c06f000000, PCK SGX [3,3,2,2,4,1,0,5] PCESVN 11, TEE_TCB_SVN 06 01 03;
// Intel's evaluation 17 rates it UpToDate in [2025-06-19, 2025-07-19).
export const upToDateTd = (): Resigned =>
  resigned("dcapqvl-uptodate-v4", "b0c06f000000", [3, 3, 2, 2, 4, 1, 0, 5], 11, "2025-07-01T00:00:00Z");
// automata-00806f050000-v4: PCK SGX [6,6,2,2,3,1,0,3] PCESVN 11; evaluation 17 rates it OutOfDate (level 2023-08-09).
export const outOfDateTd = (): Resigned =>
  resigned(
    "automata-00806f050000-v4",
    "00806f050000",
    [6, 6, 2, 2, 3, 1, 0, 3],
    11,
    "2025-06-05T03:45:00Z",
    "2025-06",
  );
