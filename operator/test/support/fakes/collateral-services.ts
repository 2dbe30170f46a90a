/**
 * Simulated Intel PCS/PCCS and AMD KDS over real HTTPS on 127.0.0.1, speaking their v4 / v1 paths and headers (issuer
 * chains URL-encoded in `TCB-Info-Issuer-Chain`, `SGX-Enclave-Identity-Issuer-Chain`, `SGX-PCK-CRL-Issuer-Chain`) and
 * serving the real evidence fixtures' collateral: real quotes and reports verify through the production fetch path.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ServerResponse } from "node:http";
import { startLocalHttps, type LocalHttps } from "./local-https.ts";

/** A TDX evidence item's collateral.json (the fields the simulated PCCS serves). */
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

function send(res: ServerResponse, body: string | Buffer, headers: Record<string, string> = {}): void {
  res.writeHead(200, headers).end(body);
}

/** The PCCS of one TDX evidence item (`<itemDir>/collateral.json`): TCB info, QE identity, PCK and root CA CRLs. */
export function pccsFromItem(itemDir: string): (path: string, res: ServerResponse) => boolean {
  const c = JSON.parse(readFileSync(join(itemDir, "collateral.json"), "utf8")) as TdxCollateralFile;
  const chain = (pem: string) => encodeURIComponent(pem);
  return (path, res) => {
    const { pathname } = new URL(path, "https://pccs.invalid");
    if (pathname === "/tdx/certification/v4/tcb") {
      send(res, `{"tcbInfo":${c.tcb_info},"signature":"${c.tcb_info_signature}"}`, {
        "Content-Type": "application/json",
        "TCB-Info-Issuer-Chain": chain(c.tcb_info_issuer_chain),
      });
    } else if (pathname === "/tdx/certification/v4/qe/identity") {
      send(res, `{"enclaveIdentity":${c.qe_identity},"signature":"${c.qe_identity_signature}"}`, {
        "Content-Type": "application/json",
        "SGX-Enclave-Identity-Issuer-Chain": chain(c.qe_identity_issuer_chain),
      });
    } else if (pathname === "/sgx/certification/v4/pckcrl") {
      send(res, Buffer.from(c.pck_crl, "hex"), {
        "Content-Type": "application/pkix-crl",
        "SGX-PCK-CRL-Issuer-Chain": chain(c.pck_crl_issuer_chain),
      });
    } else if (pathname === "/sgx/certification/v4/rootcacrl") {
      send(res, Buffer.from(c.root_ca_crl, "hex"), { "Content-Type": "application/pkix-crl" });
    } else return false;
    return true;
  };
}

/** The KDS of one SNP evidence item: its VCEK for any hwID/TCB query of its product, and the ASK+ARK chain. */
export function kdsFromItem(
  itemDir: string,
  product: string,
  chainFile: string,
): (path: string, res: ServerResponse) => boolean {
  const vcek = readFileSync(join(itemDir, "vcek.der"));
  const certChain = readFileSync(join(itemDir, chainFile), "utf8");
  return (path, res) => {
    const { pathname } = new URL(path, "https://kds.invalid");
    if (pathname === `/vcek/v1/${product}/cert_chain`)
      send(res, certChain, { "Content-Type": "application/x-pem-file" });
    else if (pathname.startsWith(`/vcek/v1/${product}/`) && !pathname.endsWith("/crl"))
      send(res, vcek, { "Content-Type": "application/octet-stream" });
    else return false;
    return true;
  };
}

/** One HTTPS server answering with the first route that knows the path, 404 otherwise. */
export async function startCollateralServices(
  ...routes: ((path: string, res: ServerResponse) => boolean)[]
): Promise<LocalHttps> {
  const server = await startLocalHttps();
  server.handle((seen, res) => {
    if (!routes.some((route) => route(seen.path, res))) res.writeHead(404).end();
  });
  return server;
}
