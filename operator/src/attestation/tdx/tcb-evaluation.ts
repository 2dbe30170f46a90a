/**
 * TCB status of a TDX quote as Intel's Quote Verification Library computes it (QVL QuoteVerifier.cpp,
 * TcbLevelCheck.cpp, TdxModuleCheck.cpp, TDRelaunchCheck.cpp, EnclaveReportVerifier.cpp): match the platform TCB
 * level, check the TDX module identity, match the QE identity, then merge the statuses.
 */
import type { PlatformTcbStatus, TcbStatus, VerificationError } from "../types.ts";
import type { PckTcb } from "./pck-certificate.ts";
import type { SgxReportBody, TdxQuote } from "./quote.ts";
import type { IdentityTcbLevel, QeIdentity, TcbInfo, TcbLevel } from "./tcb-info.ts";
import { toHex as hex } from "./hex.ts";

export interface TcbEvaluation {
  status: TcbStatus;
  advisoryIds: string[];
  tcbDate?: string;
  platformStatus?: PlatformTcbStatus;
  moduleStatus?: string;
  qeStatus?: string;
  /** QVL's TDRelaunchAdvised: a TD relaunch would pick up the host's newer TDX module (status then OutOfDate*). */
  tdRelaunchAdvised: boolean;
  errors: VerificationError[];
}

type QeStatus = IdentityTcbLevel["status"] | "NotSupported";
type ModuleStatus = IdentityTcbLevel["status"] | "NotSupported";

const moduleId = (version: number): string => `TDX_${version.toString(16).toUpperCase().padStart(2, "0")}`;

/** The quote cannot be evaluated against this collateral (wrong collateral, or not Intel's module or QE). */
function refused(code: "CollateralMissing" | "MeasurementMismatch", message: string): TcbEvaluation {
  return {
    status: code === "CollateralMissing" ? "Unknown" : "NotSupported",
    advisoryIds: [],
    tdRelaunchAdvised: false,
    errors: [{ code, message }],
  };
}

function matchTcbLevels(levels: TcbLevel[], pck: PckTcb, teeTcbSvn: Uint8Array) {
  const firstTdx = (teeTcbSvn[1] ?? 0) > 0 ? 2 : 0;
  let sgxLevel: TcbLevel | undefined;
  for (const level of levels) {
    const sgxOk = level.sgxComponents.every((svn, i) => (pck.sgxTcbComponents[i] ?? 0) >= svn);
    if (!sgxOk || pck.pceSvn < level.pceSvn) continue;
    sgxLevel ??= level;
    const tdxOk =
      level.tdxComponents.length === 16 &&
      level.tdxComponents.every((svn, i) => i < firstTdx || (teeTcbSvn[i] ?? 0) >= svn);
    if (tdxOk) return { sgxLevel, tdxLevel: level };
  }
  return { sgxLevel, tdxLevel: undefined };
}

function qeIdentityMismatch(report: SgxReportBody, identity: QeIdentity): string | undefined {
  if ((report.miscSelect & identity.miscselectMask) >>> 0 !== identity.miscselect) return "MISCSELECT";
  const mask = Buffer.from(identity.attributesMask, "hex");
  const masked = report.attributes.map((byte, i) => byte & (mask[i] ?? 0));
  if (hex(masked) !== identity.attributes) return "ATTRIBUTES";
  if (hex(report.mrSigner) !== identity.mrSigner) return "MRSIGNER";
  if (report.isvProdId !== identity.isvProdId) return "ISVPRODID";
  return undefined;
}

/** QVL convergeTcbStatusWith{TdxModule,QeTcb}Status: an OutOfDate component downgrades, Revoked wins. */
function converge(status: TcbStatus, other: QeStatus | ModuleStatus): TcbStatus {
  if (other === "OutOfDate") {
    if (status === "UpToDate" || status === "SWHardeningNeeded") return "OutOfDate";
    if (status === "ConfigurationNeeded" || status === "ConfigurationAndSWHardeningNeeded") {
      return "OutOfDateConfigurationNeeded";
    }
  }
  if (other === "Revoked") return "Revoked";
  if (other === "NotSupported") return "NotSupported";
  return status;
}

const needsConfiguration = (status: TcbStatus): boolean =>
  status === "ConfigurationNeeded" ||
  status === "OutOfDateConfigurationNeeded" ||
  status === "ConfigurationAndSWHardeningNeeded";

/** QVL checkForRelaunch (TDX 1.5 bodies): TEE_TCB_SVN2 shows the host already runs an up-to-date module. */
function relaunchAdvised(
  quote: TdxQuote,
  info: TcbInfo,
  sgx: PlatformTcbStatus,
  tdx: TcbStatus,
  module: ModuleStatus,
) {
  const svn2 = quote.body.teeTcbSvn2;
  const latest = info.tcbLevels[0];
  if (svn2 === undefined || latest === undefined) return false;
  if (sgx === "OutOfDate" || sgx === "OutOfDateConfigurationNeeded" || sgx === "Revoked") return false;
  if ((tdx !== "OutOfDate" && tdx !== "OutOfDateConfigurationNeeded") || module !== "OutOfDate") return false;
  const microcodeOk = (svn2[2] ?? 0) >= (latest.tdxComponents[2] ?? 0);
  if ((svn2[1] ?? 0) === 0) return (svn2[0] ?? 0) >= (latest.tdxComponents[0] ?? 0) && microcodeOk;
  const identity = info.tdxModuleIdentities.find((candidate) => candidate.id === moduleId(svn2[1] ?? 0));
  const newest = identity?.tcbLevels[0];
  return newest !== undefined && (svn2[0] ?? 0) >= newest.isvSvn && microcodeOk;
}

export function evaluateTcb(quote: TdxQuote, pck: PckTcb, info: TcbInfo, qe: QeIdentity): TcbEvaluation {
  if (info.id !== "TDX" || info.version < 3) {
    return refused("CollateralMissing", `TCB info ${info.id} v${info.version} is not TDX TCB info v3`);
  }
  if (info.fmspc !== pck.fmspc || info.pceId !== pck.pceId) {
    return refused(
      "CollateralMissing",
      `TCB info is for FMSPC ${info.fmspc}/PCEID ${info.pceId}; the PCK certificate has ${pck.fmspc}/${pck.pceId}`,
    );
  }
  if (qe.id !== "TD_QE" || qe.version !== 2) {
    return refused("CollateralMissing", `QE identity ${qe.id} v${qe.version} is not the TD_QE identity v2`);
  }
  const { teeTcbSvn, mrSignerSeam, seamAttributes } = quote.body;
  const moduleVersion = teeTcbSvn[1] ?? 0;
  const identity = info.tdxModuleIdentities.find((candidate) => candidate.id === moduleId(moduleVersion));
  const signer = moduleVersion > 0 ? identity : info.tdxModule;
  if (signer === undefined) {
    return refused("MeasurementMismatch", `TCB info has no TDX module identity ${moduleId(moduleVersion)}`);
  }
  // QVL compares SEAM attributes unmasked and requires them to be zero.
  const seamOk = hex(seamAttributes) === signer.attributes && seamAttributes.every((byte) => byte === 0);
  if (hex(mrSignerSeam) !== signer.mrSigner || !seamOk) {
    return refused("MeasurementMismatch", "MRSIGNERSEAM/SEAMATTRIBUTES do not match Intel's TDX module");
  }
  const qeMismatch = qeIdentityMismatch(quote.qeReport, qe);
  if (qeMismatch !== undefined) {
    return refused("MeasurementMismatch", `QE report ${qeMismatch} does not match Intel's TD_QE identity`);
  }
  const qeLevel = qe.tcbLevels.find((level) => quote.qeReport.isvSvn >= level.isvSvn);
  const qeStatus: QeStatus = qeLevel?.status ?? "NotSupported";

  const { sgxLevel, tdxLevel } = matchTcbLevels(info.tcbLevels, pck, teeTcbSvn);
  if (sgxLevel === undefined || tdxLevel === undefined) {
    return { status: "NotSupported", advisoryIds: [], tdRelaunchAdvised: false, errors: [], qeStatus };
  }
  const moduleLevel =
    moduleVersion > 0 ? identity?.tcbLevels.find((l) => (teeTcbSvn[0] ?? 0) >= l.isvSvn) : undefined;
  const moduleStatus: ModuleStatus =
    moduleVersion === 0 ? "UpToDate" : (moduleLevel?.status ?? "NotSupported");
  const advisoryIds = [
    ...new Set([
      ...tdxLevel.advisoryIds,
      ...(moduleLevel?.advisoryIds ?? []),
      ...(qeLevel?.advisoryIds ?? []),
    ]),
  ];
  const base = {
    tcbDate: tdxLevel.tcbDate,
    platformStatus: tdxLevel.status,
    moduleStatus,
    qeStatus,
    errors: [],
  };
  if (moduleStatus === "NotSupported") {
    return { ...base, status: "NotSupported", advisoryIds, tdRelaunchAdvised: false };
  }
  let status = converge(tdxLevel.status, moduleStatus);
  if (status === "Revoked") return { ...base, status, advisoryIds, tdRelaunchAdvised: false };
  let tdRelaunchAdvised = false;
  if (qeStatus === "UpToDate" && relaunchAdvised(quote, info, sgxLevel.status, status, moduleStatus)) {
    tdRelaunchAdvised = true;
    status =
      needsConfiguration(sgxLevel.status) || needsConfiguration(status)
        ? "OutOfDateConfigurationNeeded"
        : status;
  }
  return { ...base, status: converge(status, qeStatus), advisoryIds, tdRelaunchAdvised };
}

// Keyed by the memoized collateral and PCK objects, then by the quote fields the evaluation reads.
const evaluations = new WeakMap<TcbInfo, WeakMap<QeIdentity, WeakMap<PckTcb, Map<string, TcbEvaluation>>>>();
const EVALUATIONS_PER_PLATFORM = 256;

function getOrCreate<K extends object, V>(map: WeakMap<K, V>, key: K, create: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = create();
    map.set(key, value);
  }
  return value;
}

/** `evaluateTcb`, reused across quotes with the same TCB-relevant fields; the result must not be mutated. */
export function evaluateTcbMemoized(
  quote: TdxQuote,
  pck: PckTcb,
  info: TcbInfo,
  qe: QeIdentity,
): TcbEvaluation {
  const byQe = getOrCreate(evaluations, info, () => new WeakMap());
  const byPck = getOrCreate(byQe, qe, () => new WeakMap());
  const byQuote = getOrCreate(byPck, pck, () => new Map<string, TcbEvaluation>());
  const { body, qeReport } = quote;
  const key = [
    hex(body.teeTcbSvn),
    body.teeTcbSvn2 === undefined ? "" : hex(body.teeTcbSvn2),
    hex(body.mrSignerSeam),
    hex(body.seamAttributes),
    qeReport.miscSelect,
    hex(qeReport.attributes),
    hex(qeReport.mrSigner),
    qeReport.isvProdId,
    qeReport.isvSvn,
  ].join("|");
  let evaluation = byQuote.get(key);
  if (evaluation === undefined) {
    evaluation = evaluateTcb(quote, pck, info, qe);
    if (byQuote.size >= EVALUATIONS_PER_PLATFORM) byQuote.clear();
    byQuote.set(key, evaluation);
  }
  return evaluation;
}
