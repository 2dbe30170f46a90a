/**
 * What the simulated Intel PCS/PCCS (v4) and AMD KDS (v1) answer, as pure functions of the request URL: paths,
 * query checks (a malformed FMSPC, CA or SPL is 400, as PCS and KDS answer), bodies, content types and Intel's
 * issuer-chain headers (URL-encoded PEM). The HTTPS server (collateral-services.ts) and the in-process source
 * (`simulatedCollateralSource`) both answer through them, so the production clients are what reads them.
 */
import { createAttestationServiceClient } from "../collateral/attestation-service-client.ts";
import { fetchTransport } from "../../http/transport.ts";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createAmdKdsSource } from "../snp/kds.ts";
import { createIntelPcsSource } from "../collateral/intel-pcs-source.ts";
import { firstAvailable } from "../collateral/caching-source.ts";
import type { CollateralSource } from "../types.ts";
import type { SimPki } from "./sim-pki.ts";
import { PREISSUED_VCEK_DIR, preissuedVcekFile, simulatedVcek } from "./simulated-vcek.ts";
import { SimulatedIntelCollateral, type SimulatedIntelCollateralOptions } from "./tdx-collateral.ts";

export interface CollateralAnswer {
  status: number;
  body?: string | Uint8Array;
  headers?: Record<string, string>;
}

/** Answers the requests it knows (undefined for any other path). */
export type CollateralRoute = (
  url: URL,
) => CollateralAnswer | undefined | Promise<CollateralAnswer | undefined>;

export const PCS_PATHS = {
  tcbInfo: "/tdx/certification/v4/tcb",
  qeIdentity: "/tdx/certification/v4/qe/identity",
  pckCrl: "/sgx/certification/v4/pckcrl",
  rootCaCrl: "/sgx/certification/v4/rootcacrl",
} as const;

const JSON_TYPE = "application/json";
const CRL_TYPE = "application/pkix-crl";
const PEM_TYPE = "application/x-pem-file";

export const badRequest = (message: string): CollateralAnswer => ({
  status: 400,
  body: message,
  headers: { "Content-Type": "text/plain" },
});

/** A PCS answer: Intel sends a Request-ID with each, and issuer chains URL-encoded. */
function pcsAnswer(
  body: string | Uint8Array,
  contentType: string,
  chain?: [string, string],
): CollateralAnswer {
  const headers: Record<string, string> = {
    "Content-Type": contentType,
    "Request-ID": randomBytes(16).toString("hex"),
  };
  if (chain !== undefined) headers[chain[0]] = encodeURIComponent(chain[1]);
  return { status: 200, body, headers };
}

function crlPem(der: Uint8Array): string {
  const lines =
    Buffer.from(der)
      .toString("base64")
      .match(/.{1,64}/g) ?? [];
  return `-----BEGIN X509 CRL-----\n${lines.join("\n")}\n-----END X509 CRL-----\n`;
}

/** The `update` parameter of TCB info and QE identity: absent, standard or early. */
function badUpdate(url: URL): CollateralAnswer | undefined {
  const update = url.searchParams.get("update");
  return update === null || update === "standard" || update === "early"
    ? undefined
    : badRequest(`update must be standard or early, not ${update}`);
}

/** Intel PCS v4 / PCCS paths over simulated Intel collateral. */
export function intelPcsRoute(collateral: SimulatedIntelCollateral): CollateralRoute {
  return (url) => {
    switch (url.pathname) {
      case PCS_PATHS.tcbInfo: {
        const fmspc = url.searchParams.get("fmspc") ?? "";
        if (!/^[0-9a-fA-F]{12}$/.test(fmspc)) return badRequest("fmspc must be 6 bytes of hex");
        const update = badUpdate(url);
        if (update !== undefined) return update;
        const info = collateral.tcbInfo(fmspc);
        if (info === undefined) return { status: 404 };
        return pcsAnswer(info.body, JSON_TYPE, ["TCB-Info-Issuer-Chain", info.issuerChain]);
      }
      case PCS_PATHS.qeIdentity: {
        const identity = collateral.qeIdentity();
        return (
          badUpdate(url) ??
          pcsAnswer(identity.body, JSON_TYPE, ["SGX-Enclave-Identity-Issuer-Chain", identity.issuerChain])
        );
      }
      case PCS_PATHS.pckCrl: {
        const ca = url.searchParams.get("ca") ?? "";
        const encoding = url.searchParams.get("encoding") ?? "pem";
        if (ca !== "platform" && ca !== "processor") return badRequest("ca must be platform or processor");
        if (encoding !== "der" && encoding !== "pem") return badRequest("encoding must be der or pem");
        const crl = collateral.pckCrl(ca);
        if (crl === undefined) return { status: 404 };
        const chain: [string, string] = ["SGX-PCK-CRL-Issuer-Chain", crl.issuerChain ?? ""];
        return encoding === "der"
          ? pcsAnswer(crl.der, CRL_TYPE, chain)
          : pcsAnswer(crlPem(crl.der), PEM_TYPE, chain);
      }
      case PCS_PATHS.rootCaCrl:
        return pcsAnswer(collateral.rootCaCrl(), CRL_TYPE);
      default:
        return undefined;
    }
  };
}

const SPLS = ["blSPL", "teeSPL", "snpSPL", "ucodeSPL"] as const;

/** The TCB of a KDS VCEK request: every SPL a number 0..255, nothing else (no fmcSPL before Turin). */
function splsOf(
  url: URL,
): CollateralAnswer | { bootloader: number; tee: number; snp: number; microcode: number } {
  const values = SPLS.map((name) => {
    const text = url.searchParams.get(name) ?? "";
    return /^\d{1,3}$/.test(text) && Number(text) <= 255 ? Number(text) : undefined;
  });
  const [bootloader, tee, snp, microcode] = values;
  const extra = [...url.searchParams.keys()].filter((name) => !(SPLS as readonly string[]).includes(name));
  if (bootloader === undefined || tee === undefined || snp === undefined || microcode === undefined)
    return badRequest(`${SPLS.join(", ")} must each be a number 0..255`);
  if (extra.length > 0) return badRequest(`unexpected parameters: ${extra.join(", ")}`);
  return { bootloader, tee, snp, microcode };
}

/** A pre-issued VCEK file (a few hundred bytes, read synchronously: this answers in-process), if present. */
function readPreissued(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
}

/** AMD KDS v1 paths (`/vcek/v1/{product}/…`) for a simulated AMD PKI: its VCEKs, ASK+ARK chain and CRL. */
export function amdKdsRoute(pki: Pick<SimPki, "amd" | "amdCrl" | "dir">): CollateralRoute {
  const { amd } = pki;
  const base = `/vcek/v1/${amd.product}/`;
  return async (url) => {
    if (!url.pathname.startsWith(base)) return undefined;
    const leaf = url.pathname.slice(base.length);
    if (leaf === "cert_chain")
      return { status: 200, body: amd.intermediatePem + amd.arkPem, headers: { "Content-Type": PEM_TYPE } };
    if (leaf === "crl")
      return pki.amdCrl === undefined
        ? { status: 404 }
        : { status: 200, body: pki.amdCrl, headers: { "Content-Type": CRL_TYPE } };
    if (!/^[0-9a-fA-F]{128}$/.test(leaf)) return badRequest("the hardware ID must be 64 bytes of hex");
    const tcb = splsOf(url);
    if ("status" in tcb) return tcb;
    const preissued =
      pki.dir === undefined
        ? undefined
        : readPreissued(join(pki.dir, PREISSUED_VCEK_DIR, preissuedVcekFile(Buffer.from(leaf, "hex"), tcb)));
    const body = preissued ?? (await simulatedVcek(amd, Buffer.from(leaf, "hex"), tcb)).leafDer;
    return { status: 200, body, headers: { "Content-Type": "application/octet-stream" } };
  };
}

/** The first route's answer for a URL, 404 when none knows it. */
export async function answerFrom(routes: readonly CollateralRoute[], url: URL): Promise<CollateralAnswer> {
  for (const route of routes) {
    const answer = await route(url);
    if (answer !== undefined) return answer;
  }
  return { status: 404 };
}

/** A `fetch` answered in-process by routes (no network). */
export function fetchFromRoutes(routes: readonly CollateralRoute[]): typeof globalThis.fetch {
  return async (input) => {
    const url = new URL(input instanceof Request ? input.url : input);
    const answer = await answerFrom(routes, url);
    const body = answer.body === undefined ? null : Buffer.from(answer.body);
    return new Response(body, {
      status: answer.status,
      ...(answer.headers ? { headers: answer.headers } : {}),
    });
  };
}

/** The routes of a simulated PKI: PCS for its Intel CA (when it has one) and KDS for its AMD CA. */
export function simulatedPkiRoutes(
  pki: SimPki,
  intel: SimulatedIntelCollateralOptions | SimulatedIntelCollateral = {},
): { routes: CollateralRoute[]; intel?: SimulatedIntelCollateral } {
  const collateral =
    pki.intel === undefined
      ? undefined
      : intel instanceof SimulatedIntelCollateral
        ? intel
        : new SimulatedIntelCollateral(pki.intel, intel);
  const routes = [...(collateral === undefined ? [] : [intelPcsRoute(collateral)]), amdKdsRoute(pki)];
  return { routes, ...(collateral === undefined ? {} : { intel: collateral }) };
}

const IN_PROCESS_URL = "https://simulated-collateral.invalid";

/**
 * The simulated PKI's collateral as a CollateralSource, answered in-process by the production PCS and KDS clients
 * over the same routes as the HTTPS services (for the guest's self-check and tests that need no network).
 */
export function simulatedCollateralSource(
  pki: SimPki,
  intel: SimulatedIntelCollateralOptions | SimulatedIntelCollateral = {},
): CollateralSource {
  const client = createAttestationServiceClient({
    transport: fetchTransport(fetchFromRoutes(simulatedPkiRoutes(pki, intel).routes)),
  });
  return firstAvailable(
    createIntelPcsSource({
      baseUrl: IN_PROCESS_URL,
      rootCaCrlUrl: `${IN_PROCESS_URL}${PCS_PATHS.rootCaCrl}`,
      client,
    }),
    createAmdKdsSource({ baseUrl: IN_PROCESS_URL, client }),
  );
}
