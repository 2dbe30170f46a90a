/**
 * Test-only Intel collateral of an evaluation Intel has not published for a platform: a real TCB info or QE identity
 * text rewritten deterministically (evaluation number, window, FMSPC, levels) and re-signed by a test TCB Signing
 * key of intel-pki.ts, served the way PCS `update=early` serves it. Only tests trust those keys.
 */
import { sign } from "node:crypto";
import * as kinds from "../../../src/attestation/collateral/kinds.ts";
import type { CollateralSource } from "../../../src/attestation/types.ts";
import { pem, type FakeIdentity, type FakePki } from "./intel-pki.ts";

type Json = Record<string, unknown>;
export interface JsonTcbLevel {
  tcb: { sgxtcbcomponents: { svn: number }[]; pcesvn: number; tdxtcbcomponents?: { svn: number }[] };
  tcbDate: string;
  tcbStatus: string;
  advisoryIDs?: string[];
}

export interface TcbInfoChange {
  evaluationDataNumber: number;
  issueDate?: string;
  nextUpdate?: string;
  fmspc?: string;
  /** Rewrites the TCB levels (JSON order, newest first). */
  levels?: (levels: JsonTcbLevel[]) => JsonTcbLevel[];
}

/** `text` (a TCB info's signed JSON) with the change applied, serialized compactly as Intel serves it. */
export function deriveTcbInfo(text: string, change: TcbInfoChange): string {
  const info = JSON.parse(text) as Json & { tcbLevels: JsonTcbLevel[] };
  info.tcbEvaluationDataNumber = change.evaluationDataNumber;
  if (change.issueDate !== undefined) info.issueDate = change.issueDate;
  if (change.nextUpdate !== undefined) info.nextUpdate = change.nextUpdate;
  if (change.fmspc !== undefined) info.fmspc = change.fmspc;
  if (change.levels !== undefined) info.tcbLevels = change.levels(structuredClone(info.tcbLevels));
  return JSON.stringify(info);
}

/**
 * Intel's usual TCB recovery, as between the real evaluations 17 and 18 of these fixtures: a new UpToDate level on
 * top that needs the raised SVNs, and every level that was UpToDate becomes OutOfDate with the new advisories.
 */
export function tcbRecovery(raise: {
  tcbDate: string;
  advisoryIds: string[];
  pceSvn?: number;
  sgx?: Record<number, number>;
  tdx?: Record<number, number>;
}): (levels: JsonTcbLevel[]) => JsonTcbLevel[] {
  return (levels) => {
    const [top] = levels;
    if (top === undefined) throw new Error("TCB info without levels");
    const raised = (components: { svn: number }[] | undefined, by: Record<number, number> = {}) =>
      components?.map((component, i) => ({ ...component, svn: by[i] ?? component.svn }));
    const sgx = raised(top.tcb.sgxtcbcomponents, raise.sgx) ?? [];
    const tdx = raised(top.tcb.tdxtcbcomponents, raise.tdx);
    const newest: JsonTcbLevel = {
      tcb: {
        sgxtcbcomponents: sgx,
        pcesvn: raise.pceSvn ?? top.tcb.pcesvn,
        ...(tdx === undefined ? {} : { tdxtcbcomponents: tdx }),
      },
      tcbDate: raise.tcbDate,
      tcbStatus: "UpToDate",
    };
    const demoted = levels.map((level) =>
      level.tcbStatus === "UpToDate"
        ? {
            ...level,
            tcbStatus: "OutOfDate",
            advisoryIDs: [...(level.advisoryIDs ?? []), ...raise.advisoryIds],
          }
        : level,
    );
    return [newest, ...demoted];
  };
}

/** Sets the status of the levels at these indexes (JSON order). */
export function withStatuses(statuses: Record<number, string>): (levels: JsonTcbLevel[]) => JsonTcbLevel[] {
  return (levels) => levels.map((level, i) => ({ ...level, tcbStatus: statuses[i] ?? level.tcbStatus }));
}

/** A QE identity text with another evaluation number and levels `[{isvsvn, status}]`, newest first. */
export function deriveQeIdentity(
  text: string,
  evaluationDataNumber: number,
  levels: { isvSvn: number; status: string; tcbDate: string }[],
): string {
  const identity = JSON.parse(text) as Json;
  identity.tcbEvaluationDataNumber = evaluationDataNumber;
  identity.tcbLevels = levels.map((level) => ({
    tcb: { isvsvn: level.isvSvn },
    tcbDate: level.tcbDate,
    tcbStatus: level.status,
  }));
  return JSON.stringify(identity);
}

/** A PCS response body `{"<member>":text,"signature":"<hex r||s>"}` signed by `signer`. */
export function signedBody(
  member: "tcbInfo" | "enclaveIdentity" | "tcbEvaluationDataNumbers",
  text: string,
  signer: FakeIdentity,
): string {
  const signature = sign("sha256", Buffer.from(text, "utf8"), {
    key: signer.keys.privateKey,
    dsaEncoding: "ieee-p1363",
  }).toString("hex");
  return `{"${member}":${text},"signature":"${signature}"}`;
}

export interface EarlyItems {
  fmspc: string;
  /** Response bodies as PCS serves them. */
  tcbInfo?: string;
  qeIdentity?: string;
  evaluationNumbers?: string;
  /** PEM issuer chain served with every item (PCS sends it in a header). */
  issuerChain?: string;
}

/** A CollateralSource serving these early items under the kinds and keys of collateral/kinds.ts. */
export function earlySource(items: EarlyItems): CollateralSource & { asked: string[] } {
  const fmspc = kinds.tcbInfoKey(items.fmspc);
  const table = new Map<string, string | undefined>([
    [`${kinds.TDX_TCB_INFO}/${fmspc}`, items.tcbInfo],
    [`${kinds.TDX_TCB_INFO_ISSUER_CHAIN}/${fmspc}`, items.tcbInfo && items.issuerChain],
    [`${kinds.TDX_QE_IDENTITY}/${kinds.TD_QE_KEY}`, items.qeIdentity],
    [`${kinds.TDX_QE_IDENTITY_ISSUER_CHAIN}/${kinds.TD_QE_KEY}`, items.qeIdentity && items.issuerChain],
    [`${kinds.TCB_EVALUATION_NUMBERS}/${kinds.TDX_EVALUATION_NUMBERS_KEY}`, items.evaluationNumbers],
    [
      `${kinds.TCB_EVALUATION_NUMBERS_ISSUER_CHAIN}/${kinds.TDX_EVALUATION_NUMBERS_KEY}`,
      items.evaluationNumbers && items.issuerChain,
    ],
  ]);
  const asked: string[] = [];
  return {
    asked,
    get(kind: string, key: string): Promise<Uint8Array | undefined> {
      asked.push(`${kind}/${key}`);
      const value = table.get(`${kind}/${key}`);
      return Promise.resolve(value === undefined ? undefined : new TextEncoder().encode(value));
    },
  };
}

/** The issuer chain PCS would send with items signed by `pki`'s TCB Signing key. */
export const tcbSigningChain = (pki: FakePki, signer: FakeIdentity = pki.tcbSigner): string =>
  pem(signer, pki.root);
