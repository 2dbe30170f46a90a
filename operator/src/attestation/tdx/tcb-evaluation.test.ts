import { expect } from "chai";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FIXTURE_TDX_DIR, SHARED_TDX_DIR } from "../../../test/fixtures/tdx/items.ts";
import type { PckTcb } from "./pck-certificate.ts";
import { verifyPckChain } from "./pck-chain.ts";
import { parseTdxQuote, type TdxQuote } from "./quote.ts";
import { splitSignedJson } from "./signed-json.ts";
import type { PlatformTcbStatus } from "../types.ts";
import { evaluateTcb } from "./tcb-evaluation.ts";
import {
  parseQeIdentity,
  parseTcbInfo,
  type IdentityTcbLevel,
  type QeIdentity,
  type TcbInfo,
  type TcbLevel,
} from "./tcb-info.ts";
import { intelTrustAnchors } from "./trust-anchors.ts";
import { VerificationMemo } from "./verification-memo.ts";

const sixteen = (...head: number[]): number[] => [...head, ...Array<number>(16 - head.length).fill(0)];
const level = (
  status: PlatformTcbStatus,
  sgx: number[],
  pceSvn: number,
  tdx: number[],
  advisoryIds: string[] = [],
): TcbLevel => ({
  sgxComponents: sixteen(...sgx),
  pceSvn,
  tdxComponents: sixteen(...tdx),
  tcbDate: "2024-03-13T00:00:00Z",
  status,
  advisoryIds,
});
const idLevel = (
  isvSvn: number,
  status: IdentityTcbLevel["status"],
  advisoryIds: string[] = [],
): IdentityTcbLevel => ({
  isvSvn,
  status,
  tcbDate: "2024-03-13T00:00:00Z",
  advisoryIds,
});
const ZERO_SIGNER = { mrSigner: "00".repeat(48), attributes: "00".repeat(8), attributesMask: "ff".repeat(8) };

// The fixture quote: TEE_TCB_SVN 06 01 03, QE ISVSVN 6; its PCK: SGX [3,3,2,2,4,1,0,5], PCESVN 11.
const baseQuote = parseTdxQuote(
  new Uint8Array(readFileSync(join(FIXTURE_TDX_DIR, "dcapqvl-uptodate-v4/quote.dat"))),
);
const basePck: PckTcb = {
  fmspc: "b0c06f000000",
  pceId: "0000",
  sgxTcbComponents: sixteen(3, 3, 2, 2, 4, 1, 0, 5),
  pceSvn: 11,
  cpuSvn: "",
  caType: "platform",
};
function baseInfo(): TcbInfo {
  return {
    id: "TDX",
    version: 3,
    issueDate: new Date(0),
    nextUpdate: new Date(0),
    fmspc: "b0c06f000000",
    pceId: "0000",
    tcbEvaluationDataNumber: 17,
    tdxModule: ZERO_SIGNER,
    tdxModuleIdentities: [
      { id: "TDX_01", ...ZERO_SIGNER, tcbLevels: [idLevel(4, "UpToDate"), idLevel(2, "OutOfDate")] },
    ],
    tcbLevels: [
      level("UpToDate", [3, 3, 2, 2, 4, 1, 0, 5], 11, [5, 0, 3]),
      level("OutOfDate", [2, 2, 2, 2, 3, 1, 0, 5], 5, [5, 0, 2], ["INTEL-SA-00106", "INTEL-SA-00837"]),
    ],
  };
}
function baseQe(): QeIdentity {
  return {
    id: "TD_QE",
    version: 2,
    issueDate: new Date(0),
    nextUpdate: new Date(0),
    tcbEvaluationDataNumber: 17,
    miscselect: 0,
    miscselectMask: 0xffffffff,
    attributes: "11000000000000000000000000000000",
    attributesMask: "fbffffffffffffff0000000000000000",
    mrSigner: "dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5",
    isvProdId: 2,
    tcbLevels: [idLevel(4, "UpToDate")],
  };
}
function withTeeTcbSvn(quote: TdxQuote, svn: number[]): TdxQuote {
  return { ...quote, body: { ...quote.body, teeTcbSvn: Uint8Array.from(sixteen(...svn)) } };
}

interface Case {
  name: string;
  quote?: TdxQuote;
  pck?: PckTcb;
  info?: (info: TcbInfo) => void;
  qe?: (qe: QeIdentity) => void;
  status: string;
  advisoryIds?: string[];
  errorCodes?: string[];
}

const cases: Case[] = [
  { name: "the first level the PCK and TD meet is taken (UpToDate)", status: "UpToDate", advisoryIds: [] },
  {
    name: "an SGX component below the first level falls through to the next, with its advisories",
    pck: { ...basePck, sgxTcbComponents: sixteen(2, 3, 2, 2, 4, 1, 0, 5) },
    status: "OutOfDate",
    advisoryIds: ["INTEL-SA-00106", "INTEL-SA-00837"],
  },
  { name: "a PCESVN below the level falls through", pck: { ...basePck, pceSvn: 10 }, status: "OutOfDate" },
  {
    name: "a TDX component below the level falls through",
    quote: withTeeTcbSvn(baseQuote, [6, 1, 2]),
    status: "OutOfDate",
  },
  {
    name: "TDX components 0 and 1 are skipped when TEE_TCB_SVN[1] > 0 (the module identity rules them)",
    info: (info) => ((info.tcbLevels[0] as TcbLevel).tdxComponents[0] = 99),
    status: "UpToDate",
  },
  {
    name: "with TEE_TCB_SVN[1] = 0 all 16 components count and tdxModule is the module identity",
    quote: withTeeTcbSvn(baseQuote, [5, 0, 3]),
    status: "UpToDate",
  },
  {
    name: "with TEE_TCB_SVN[1] = 0 a low component 0 falls through",
    quote: withTeeTcbSvn(baseQuote, [4, 0, 3]),
    status: "NotSupported",
  },
  {
    name: "no level at all: NotSupported",
    pck: { ...basePck, sgxTcbComponents: sixteen(1, 1) },
    status: "NotSupported",
  },
  {
    name: "an OutOfDate TDX module downgrades UpToDate to OutOfDate",
    quote: withTeeTcbSvn(baseQuote, [3, 1, 3]),
    status: "OutOfDate",
  },
  {
    name: "an OutOfDate TDX module turns ConfigurationNeeded into OutOfDateConfigurationNeeded",
    quote: withTeeTcbSvn(baseQuote, [3, 1, 3]),
    info: (info) => ((info.tcbLevels[0] as TcbLevel).status = "ConfigurationNeeded"),
    status: "OutOfDateConfigurationNeeded",
  },
  {
    name: "a Revoked TDX module level makes the TCB Revoked",
    quote: withTeeTcbSvn(baseQuote, [3, 1, 3]),
    info: (info) => ((info.tdxModuleIdentities[0]?.tcbLevels[1] as IdentityTcbLevel).status = "Revoked"),
    status: "Revoked",
  },
  {
    name: "a module SVN below every module level: NotSupported",
    quote: withTeeTcbSvn(baseQuote, [1, 1, 3]),
    status: "NotSupported",
  },
  {
    name: "a module version without identity (TDX_02): MeasurementMismatch",
    quote: withTeeTcbSvn(baseQuote, [6, 2, 3]),
    status: "NotSupported",
    errorCodes: ["MeasurementMismatch"],
  },
  {
    name: "MRSIGNERSEAM other than Intel's: MeasurementMismatch",
    info: (info) => ((info.tdxModuleIdentities[0] as { mrSigner: string }).mrSigner = "11".repeat(48)),
    status: "NotSupported",
    errorCodes: ["MeasurementMismatch"],
  },
  {
    name: "an OutOfDate QE downgrades SWHardeningNeeded to OutOfDate",
    info: (info) => ((info.tcbLevels[0] as TcbLevel).status = "SWHardeningNeeded"),
    qe: (qe) => (qe.tcbLevels = [idLevel(8, "UpToDate"), idLevel(6, "OutOfDate", ["INTEL-SA-00615"])]),
    status: "OutOfDate",
    advisoryIds: ["INTEL-SA-00615"],
  },
  {
    name: "an OutOfDate QE turns ConfigurationAndSWHardeningNeeded into OutOfDateConfigurationNeeded",
    info: (info) => ((info.tcbLevels[0] as TcbLevel).status = "ConfigurationAndSWHardeningNeeded"),
    qe: (qe) => (qe.tcbLevels = [idLevel(8, "UpToDate"), idLevel(6, "OutOfDate")]),
    status: "OutOfDateConfigurationNeeded",
  },
  {
    name: "a Revoked QE level makes the TCB Revoked",
    qe: (qe) => (qe.tcbLevels = [idLevel(7, "UpToDate"), idLevel(6, "Revoked")]),
    status: "Revoked",
  },
  {
    name: "a QE ISVSVN below every QE level: NotSupported",
    qe: (qe) => (qe.tcbLevels = [idLevel(7, "UpToDate")]),
    status: "NotSupported",
  },
  {
    name: "a QE MRSIGNER other than Intel's: MeasurementMismatch",
    qe: (qe) => (qe.mrSigner = "00".repeat(32)),
    status: "NotSupported",
    errorCodes: ["MeasurementMismatch"],
  },
  {
    name: "QE attributes differing under the mask: MeasurementMismatch",
    qe: (qe) => (qe.attributes = "13000000000000000000000000000000"),
    status: "NotSupported",
    errorCodes: ["MeasurementMismatch"],
  },
  {
    name: "TCB info for another FMSPC: Unknown, CollateralMissing",
    info: (info) => (info.fmspc = "00906ed50000"),
    status: "Unknown",
    errorCodes: ["CollateralMissing"],
  },
  {
    name: "SGX TCB info: Unknown, CollateralMissing",
    info: (info) => (info.id = "SGX"),
    status: "Unknown",
    errorCodes: ["CollateralMissing"],
  },
  {
    name: "a QE identity of the SGX QE: Unknown, CollateralMissing",
    qe: (qe) => (qe.id = "QE"),
    status: "Unknown",
    errorCodes: ["CollateralMissing"],
  },
  {
    name: "advisories of the platform, module and QE levels are merged without duplicates",
    quote: withTeeTcbSvn(baseQuote, [3, 1, 2]),
    info: (info) =>
      ((info.tdxModuleIdentities[0]?.tcbLevels[1] as IdentityTcbLevel).advisoryIds = [
        "INTEL-SA-01036",
        "INTEL-SA-00837",
      ]),
    qe: (qe) => (qe.tcbLevels = [idLevel(6, "UpToDate", ["INTEL-SA-00999"])]),
    status: "OutOfDate",
    advisoryIds: ["INTEL-SA-00106", "INTEL-SA-00837", "INTEL-SA-01036", "INTEL-SA-00999"],
  },
];

describe("evaluateTcb (Intel QVL rules)", () => {
  for (const test of cases) {
    it(test.name, () => {
      const info = baseInfo();
      const qe = baseQe();
      test.info?.(info);
      test.qe?.(qe);
      const result = evaluateTcb(test.quote ?? baseQuote, test.pck ?? basePck, info, qe);
      expect(result.status).to.equal(test.status);
      if (test.advisoryIds !== undefined) expect(result.advisoryIds).to.deep.equal(test.advisoryIds);
      expect(result.errors.map((error) => error.code)).to.deep.equal(test.errorCodes ?? []);
    });
  }

  it("a TDX 1.5 TD on an out-of-date module, whose host already runs the current one, is advised to relaunch", () => {
    // The v5 fixture: TEE_TCB_SVN 07 01 03, TEE_TCB_SVN2 0d 01 03, QE ISVSVN 7, PCK SGX [3,3,2,2,4,1,0,3] PCESVN 13.
    const quote = parseTdxQuote(
      new Uint8Array(readFileSync(join(FIXTURE_TDX_DIR, "dcapqvl-v5-no-tcb-level/quote.dat"))),
    );
    const info = baseInfo();
    info.fmspc = "90c06f000000";
    info.tcbLevels = [level("UpToDate", [3, 3, 2, 2, 4, 1, 0, 3], 13, [5, 0, 3])];
    info.tdxModuleIdentities = [
      { id: "TDX_01", ...ZERO_SIGNER, tcbLevels: [idLevel(13, "UpToDate"), idLevel(7, "OutOfDate")] },
    ];
    const pck = {
      ...basePck,
      fmspc: "90c06f000000",
      sgxTcbComponents: sixteen(3, 3, 2, 2, 4, 1, 0, 3),
      pceSvn: 13,
    };
    const result = evaluateTcb(quote, pck, info, baseQe());
    expect(result.status).to.equal("OutOfDate");
    expect(result.tdRelaunchAdvised).to.equal(true);
  });

  it("google-v5-sample: its TCB info gives UpToDate and its (stale) QE identity content QE UpToDate", () => {
    const dir = join(SHARED_TDX_DIR, "google-v5-sample");
    const quote = parseTdxQuote(new Uint8Array(readFileSync(join(dir, "quote.dat"))));
    const pck = verifyPckChain(quote.pckCertChain, intelTrustAnchors(), new VerificationMemo());
    const info = parseTcbInfo(
      splitSignedJson(readFileSync(join(dir, "tcb_info.json"), "utf8"), "tcbInfo", "t").text,
    );
    const qe = parseQeIdentity(
      splitSignedJson(readFileSync(join(dir, "qe_identity_2023.json"), "utf8"), "enclaveIdentity", "q").text,
    );
    const result = evaluateTcb(quote, pck.tcb, info, qe);
    expect(pck.tcb.sgxTcbComponents.slice(0, 8)).to.deep.equal([4, 4, 2, 2, 4, 1, 0, 5]);
    expect(pck.tcb.pceSvn).to.equal(13);
    expect(result).to.include({
      status: "UpToDate",
      tcbDate: "2024-11-13T00:00:00Z",
      moduleStatus: "UpToDate",
    });
    expect(result.qeStatus).to.equal("UpToDate");
    expect(result.advisoryIds).to.deep.equal([]);
  });

  it("refuses TCB info of a tcbType other than 0 (its levels would compare by other rules)", () => {
    const text = splitSignedJson(
      readFileSync(join(SHARED_TDX_DIR, "google-v5-sample", "tcb_info.json"), "utf8"),
      "tcbInfo",
      "t",
    ).text;
    expect(() => parseTcbInfo(text)).to.not.throw();
    const retyped = JSON.stringify({ ...(JSON.parse(text) as object), tcbType: 1 });
    expect(() => parseTcbInfo(retyped)).to.throw("tcbType 1 is not supported");
  });
});
