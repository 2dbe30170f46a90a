/**
 * The Intel collateral of the simulated TDX platform, as Intel's PCS serves it: TDX TCB info (v3) for the simulated
 * FMSPC and the TD_QE identity (v2), each signed by the simulated TCB Signing key the way Intel signs them (ECDSA
 * P-256 over the exact text of the `tcbInfo` / `enclaveIdentity` member, hex r||s), the PCK Platform CA CRL and the
 * root CA CRL, each with its issuer chain. Documents are valid for 30 days, like Intel's, and reissued before expiry.
 */
import { sign, type KeyObject } from "node:crypto";
import { issueIntelCrl, pemChain, simulatedPckSerial, type IntelCa } from "./intel-pki.ts";
import {
  SIMULATED_TCB_DATE,
  SIMULATED_TCB_EVALUATION_DATA_NUMBER,
  SIMULATED_TD_QE,
  SIMULATED_TDX_FMSPC,
  SIMULATED_TDX_MODULE,
  SIMULATED_TDX_PCK_TCB,
  SIMULATED_TEE_TCB_SVN,
} from "./tdx-platform.ts";

const DAY_MS = 24 * 3600_000;
/** Intel's TCB info, QE identity and PCK CRLs are valid for 30 days. */
const VALIDITY_MS = 30 * DAY_MS;
/** Issued a little in the past, so that a verifier whose clock lags a little still sees them as current. */
const BACKDATE_MS = 5 * 60_000;

/** Intel's JSON dates: ISO 8601 UTC without milliseconds. */
const intelDate = (date: Date): string => date.toISOString().replace(/\.\d{3}Z$/, "Z");
const svns = (values: readonly number[]): { svn: number }[] => values.map((svn) => ({ svn }));

export interface IssuedWindow {
  issueDate: Date;
  nextUpdate: Date;
}

/** The TDX TCB info text (v3) of the simulated platform: its TCB level UpToDate, an older one OutOfDate. */
export function simulatedTcbInfoText(window: IssuedWindow): string {
  const module = {
    mrsigner: SIMULATED_TDX_MODULE.mrSigner.toUpperCase(),
    attributes: SIMULATED_TDX_MODULE.attributes.toUpperCase(),
    attributesMask: "FFFFFFFFFFFFFFFF",
  };
  const [moduleSvn = 0, moduleVersion = 0] = SIMULATED_TEE_TCB_SVN;
  return JSON.stringify({
    id: "TDX",
    version: 3,
    issueDate: intelDate(window.issueDate),
    nextUpdate: intelDate(window.nextUpdate),
    fmspc: SIMULATED_TDX_FMSPC.toUpperCase(),
    pceId: "0000",
    tcbType: 0,
    tcbEvaluationDataNumber: SIMULATED_TCB_EVALUATION_DATA_NUMBER,
    tdxModule: module,
    tdxModuleIdentities: [
      {
        id: `TDX_${moduleVersion.toString(16).toUpperCase().padStart(2, "0")}`,
        ...module,
        tcbLevels: [
          { tcb: { isvsvn: moduleSvn }, tcbDate: SIMULATED_TCB_DATE, tcbStatus: "UpToDate" },
          { tcb: { isvsvn: 2 }, tcbDate: "2023-08-09T00:00:00Z", tcbStatus: "OutOfDate" },
        ],
      },
    ],
    tcbLevels: [
      {
        tcb: {
          sgxtcbcomponents: svns(SIMULATED_TDX_PCK_TCB.sgxComponents),
          pcesvn: SIMULATED_TDX_PCK_TCB.pceSvn,
          tdxtcbcomponents: svns(SIMULATED_TEE_TCB_SVN),
        },
        tcbDate: SIMULATED_TCB_DATE,
        tcbStatus: "UpToDate",
      },
      {
        tcb: {
          sgxtcbcomponents: svns([2, 2, 2, 2, 3, 1, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0]),
          pcesvn: 10,
          tdxtcbcomponents: svns([2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        },
        tcbDate: "2023-08-09T00:00:00Z",
        tcbStatus: "OutOfDate",
      },
    ],
  });
}

/** The TD_QE identity text (v2) of the simulated quoting enclave. */
export function simulatedQeIdentityText(window: IssuedWindow): string {
  return JSON.stringify({
    id: "TD_QE",
    version: 2,
    issueDate: intelDate(window.issueDate),
    nextUpdate: intelDate(window.nextUpdate),
    tcbEvaluationDataNumber: SIMULATED_TCB_EVALUATION_DATA_NUMBER,
    miscselect: "00000000",
    miscselectMask: "FFFFFFFF",
    attributes: "11000000000000000000000000000000",
    attributesMask: "FBFFFFFFFFFFFFFF0000000000000000",
    mrsigner: SIMULATED_TD_QE.mrSigner.toUpperCase(),
    isvprodid: SIMULATED_TD_QE.isvProdId,
    tcbLevels: [
      { tcb: { isvsvn: SIMULATED_TD_QE.isvSvn }, tcbDate: SIMULATED_TCB_DATE, tcbStatus: "UpToDate" },
    ],
  });
}

/** Intel's signature of a collateral document: ECDSA P-256 / SHA-256 over the exact text, r||s in hex. */
export function signIntelJson(text: string, key: KeyObject): string {
  return sign("sha256", Buffer.from(text, "utf8"), { key, dsaEncoding: "ieee-p1363" }).toString("hex");
}

/** A PCS response body: `{"tcbInfo":…,"signature":…}` or `{"enclaveIdentity":…,"signature":…}`. */
export function signedJsonBody(member: "tcbInfo" | "enclaveIdentity", text: string, key: KeyObject): string {
  return `{"${member}":${text},"signature":"${signIntelJson(text, key)}"}`;
}

export interface SignedJsonResponse {
  /** The response body. */
  body: string;
  /** PEM, TCB Signing then root (the `TCB-Info-Issuer-Chain` / `SGX-Enclave-Identity-Issuer-Chain` header). */
  issuerChain: string;
}

export interface CrlResponse {
  der: Uint8Array;
  /** PEM, PCK CA then root (the `SGX-PCK-CRL-Issuer-Chain` header); none for the root CA CRL. */
  issuerChain?: string;
}

export interface SimulatedIntelCollateralOptions {
  now?: () => Date;
  /** Machines whose PCK certificates the PCK CRL lists. */
  revokedMachines?: readonly string[];
}

interface Issued<T> {
  value: T;
  nextUpdate: number;
}

/** The collateral a simulated Intel PCS serves for a simulated PKI; documents are made on first use and reused. */
export class SimulatedIntelCollateral {
  readonly #intel: IntelCa;
  readonly #now: () => Date;
  readonly #revoked: Set<string>;
  #tcbInfo: Issued<SignedJsonResponse> | undefined;
  #qeIdentity: Issued<SignedJsonResponse> | undefined;
  #pckCrl: Issued<CrlResponse> | undefined;

  constructor(intel: IntelCa, options: SimulatedIntelCollateralOptions = {}) {
    this.#intel = intel;
    this.#now = options.now ?? (() => new Date());
    this.#revoked = new Set(options.revokedMachines ?? []);
  }

  /** TDX TCB info for an FMSPC (any case); undefined for any FMSPC but the simulated platform's. */
  tcbInfo(fmspc: string): SignedJsonResponse | undefined {
    if (fmspc.toLowerCase() !== SIMULATED_TDX_FMSPC) return undefined;
    this.#tcbInfo = this.#current(this.#tcbInfo, (window) => ({
      body: signedJsonBody("tcbInfo", simulatedTcbInfoText(window), this.#intel.tcbSigner.keys.privateKey),
      issuerChain: this.#tcbSigningChain(),
    }));
    return this.#tcbInfo.value;
  }

  qeIdentity(): SignedJsonResponse {
    this.#qeIdentity = this.#current(this.#qeIdentity, (window) => ({
      body: signedJsonBody(
        "enclaveIdentity",
        simulatedQeIdentityText(window),
        this.#intel.tcbSigner.keys.privateKey,
      ),
      issuerChain: this.#tcbSigningChain(),
    }));
    return this.#qeIdentity.value;
  }

  /** The PCK CRL of a CA type; the simulated PKI has a Platform CA only. */
  pckCrl(ca: "platform" | "processor"): CrlResponse | undefined {
    if (ca !== "platform") return undefined;
    this.#pckCrl = this.#current(this.#pckCrl, (window) => ({
      der: issueIntelCrl(this.#intel.pckCa, {
        revokedSerials: [...this.#revoked].map((machine) => simulatedPckSerial(this.#intel, machine)),
        thisUpdate: window.issueDate,
        nextUpdate: window.nextUpdate,
      }),
      issuerChain: pemChain(this.#intel.pckCa.certificate, this.#intel.root),
    }));
    return this.#pckCrl.value;
  }

  rootCaCrl(): Uint8Array {
    return this.#intel.rootCaCrl;
  }

  /** Lists a machine's PCK certificate on the PCK CRL from now on (a new CRL is issued). */
  revokeMachine(machine: string): void {
    this.#revoked.add(machine);
    this.#pckCrl = undefined;
  }

  #tcbSigningChain(): string {
    return pemChain(this.#intel.tcbSigner.certificate, this.#intel.root);
  }

  /** The issued document while it has more than a day to live, else a new one issued now. */
  #current<T>(issued: Issued<T> | undefined, issue: (window: IssuedWindow) => T): Issued<T> {
    const now = this.#now().getTime();
    if (issued !== undefined && now < issued.nextUpdate - DAY_MS) return issued;
    const issueDate = new Date(Math.floor((now - BACKDATE_MS) / 1000) * 1000);
    const nextUpdate = new Date(issueDate.getTime() + VALIDITY_MS);
    return { value: issue({ issueDate, nextUpdate }), nextUpdate: nextUpdate.getTime() };
  }
}
