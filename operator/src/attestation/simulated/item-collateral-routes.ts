/**
 * Routes serving the collateral of real evidence items (operator/test/fixtures/evidence layout) through the
 * simulated PCS and KDS: real quotes and reports then verify through the production fetch path.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PCS_PATHS, type CollateralAnswer, type CollateralRoute } from "./collateral-routes.ts";

/** A TDX evidence item's collateral.json (the fields a PCCS serves). */
interface TdxCollateralFile {
  tcb_info: string;
  tcb_info_signature: string;
  tcb_info_issuer_chain: string;
  qe_identity: string;
  qe_identity_signature: string;
  qe_identity_issuer_chain: string;
  pck_crl: string;
  pck_crl_issuer_chain: string;
  root_ca_crl: string;
}

function readItemFile(itemDir: string, file: string): Buffer {
  try {
    return readFileSync(join(itemDir, file));
  } catch (error) {
    throw new Error(`evidence item ${itemDir}: cannot read ${file}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

function readCollateralFile(itemDir: string): TdxCollateralFile {
  const text = readItemFile(itemDir, "collateral.json").toString("utf8");
  let parsed: Partial<Record<keyof TdxCollateralFile, unknown>>;
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch (error) {
    throw new Error(`evidence item ${itemDir}: collateral.json is not JSON`, { cause: error });
  }
  const fields: (keyof TdxCollateralFile)[] = [
    "tcb_info",
    "tcb_info_signature",
    "tcb_info_issuer_chain",
    "qe_identity",
    "qe_identity_signature",
    "qe_identity_issuer_chain",
    "pck_crl",
    "pck_crl_issuer_chain",
    "root_ca_crl",
  ];
  const missing = fields.filter((field) => typeof parsed[field] !== "string");
  if (missing.length > 0)
    throw new Error(`evidence item ${itemDir}: collateral.json lacks ${missing.join(", ")}`);
  return parsed as TdxCollateralFile;
}

const ok = (body: string | Uint8Array, headers: Record<string, string>): CollateralAnswer => ({
  status: 200,
  body,
  headers,
});

/** The PCCS of one TDX evidence item (`<itemDir>/collateral.json`): TCB info, QE identity, PCK and root CA CRLs. */
export function pccsFromItem(itemDir: string): CollateralRoute {
  const c = readCollateralFile(itemDir);
  const chain = (pem: string): string => encodeURIComponent(pem);
  return (url) => {
    switch (url.pathname) {
      case PCS_PATHS.tcbInfo:
        return ok(`{"tcbInfo":${c.tcb_info},"signature":"${c.tcb_info_signature}"}`, {
          "Content-Type": "application/json",
          "TCB-Info-Issuer-Chain": chain(c.tcb_info_issuer_chain),
        });
      case PCS_PATHS.qeIdentity:
        return ok(`{"enclaveIdentity":${c.qe_identity},"signature":"${c.qe_identity_signature}"}`, {
          "Content-Type": "application/json",
          "SGX-Enclave-Identity-Issuer-Chain": chain(c.qe_identity_issuer_chain),
        });
      case PCS_PATHS.pckCrl:
        return ok(Buffer.from(c.pck_crl, "hex"), {
          "Content-Type": "application/pkix-crl",
          "SGX-PCK-CRL-Issuer-Chain": chain(c.pck_crl_issuer_chain),
        });
      case PCS_PATHS.rootCaCrl:
        return ok(Buffer.from(c.root_ca_crl, "hex"), { "Content-Type": "application/pkix-crl" });
      default:
        return undefined;
    }
  };
}

/** The KDS of one SNP evidence item: its VCEK (`vcek.der`) for any hwID/TCB query of its product, and the chain. */
export function kdsFromItem(itemDir: string, product: string, chainFile: string): CollateralRoute {
  const vcek = readItemFile(itemDir, "vcek.der");
  const certChain = readItemFile(itemDir, chainFile).toString("utf8");
  return (url) => {
    const base = `/vcek/v1/${product}/`;
    if (url.pathname === `${base}cert_chain`)
      return ok(certChain, { "Content-Type": "application/x-pem-file" });
    if (url.pathname.startsWith(base) && !url.pathname.endsWith("/crl"))
      return ok(vcek, { "Content-Type": "application/octet-stream" });
    return undefined;
  };
}
