/**
 * Turns an evidence item under operator/test/fixtures/evidence/tdx/<item> into the `tee` section of an evidence bundle:
 * the quote as base64 and whatever collateral the item carries, in bundle form. Items differ in layout:
 * dcap-qvl `collateral.json`, PCS response bodies (`tcb_info*.json`, `qe_identity*.json`), DER CRLs, PEM issuer
 * chains, DER certificates in `certs/`, and dated `collateral_<snapshot>/` folders.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { ConfidentialVMStatusEvidencePublicKey } from "../../../src/api/v1alpha1/generated/types.ts";
import type { EvidenceBundle, TeeEvidence } from "../../../src/attestation/types.ts";
import type { TdxCollateral } from "../../../src/attestation/tdx/collateral-resolve.ts";
import { decodeCrlBytes } from "../../../src/attestation/tdx/crl.ts";
import { splitSignedJson } from "../../../src/attestation/tdx/signed-json.ts";

export interface TdxItemOptions {
  /** Which `collateral_<snapshot>` folder to use (e.g. `2025-06`); default the first one. */
  snapshot?: string;
}

const derToPem = (der: Uint8Array): string =>
  `-----BEGIN CERTIFICATE-----\n${(
    Buffer.from(der)
      .toString("base64")
      .match(/.{1,64}/g) ?? []
  ).join("\n")}\n-----END CERTIFICATE-----\n`;
const crlBase64 = (bytes: Uint8Array): string => Buffer.from(decodeCrlBytes(bytes)).toString("base64");

function filesOf(dir: string): Map<string, string> {
  return new Map(readdirSync(dir).map((name) => [name, join(dir, name)]));
}

function fromDcapQvlJson(path: string): TdxCollateral {
  const json = JSON.parse(readFileSync(path, "utf8")) as Record<string, string>;
  const hexCrl = (key: string): string | undefined =>
    json[key] === undefined ? undefined : crlBase64(Buffer.from(json[key], "utf8"));
  const collateral: TdxCollateral = {
    pckCrlIssuerChain: json.pck_crl_issuer_chain,
    rootCaCrl: hexCrl("root_ca_crl"),
    pckCrl: hexCrl("pck_crl"),
    tcbInfoIssuerChain: json.tcb_info_issuer_chain,
    tcbInfo: json.tcb_info,
    tcbInfoSignature: json.tcb_info_signature,
    qeIdentityIssuerChain: json.qe_identity_issuer_chain,
    qeIdentity: json.qe_identity,
    qeIdentitySignature: json.qe_identity_signature,
  };
  return Object.fromEntries(Object.entries(collateral).filter(([, v]) => v !== undefined));
}

/** What a file of an item contributes, by its name; the first matching rule wins. */
const FILE_RULES: { matches: (name: string) => boolean; read: (path: string) => TdxCollateral }[] = [
  { matches: (name) => name === "collateral.json", read: fromDcapQvlJson },
  {
    matches: (name) => name.startsWith("tcb_info") && name.endsWith(".json"),
    read: (path) => {
      const signed = splitSignedJson(readFileSync(path, "utf8"), "tcbInfo", path);
      return { tcbInfo: signed.text, tcbInfoSignature: signed.signature };
    },
  },
  {
    matches: (name) => name.startsWith("qe_identity") && name.endsWith(".json"),
    read: (path) => {
      const signed = splitSignedJson(readFileSync(path, "utf8"), "enclaveIdentity", path);
      return { qeIdentity: signed.text, qeIdentitySignature: signed.signature };
    },
  },
  { matches: (name) => name === "pck_crl.der", read: (path) => ({ pckCrl: crlBase64(readFileSync(path)) }) },
  {
    matches: (name) => name === "root_ca_crl.der",
    read: (path) => ({ rootCaCrl: crlBase64(readFileSync(path)) }),
  },
  {
    matches: (name) => name.startsWith("tcb_info_issuer_chain"),
    read: (path) => ({ tcbInfoIssuerChain: readFileSync(path, "utf8") }),
  },
  {
    matches: (name) => name.startsWith("qe_identity_issuer_chain"),
    read: (path) => ({ qeIdentityIssuerChain: readFileSync(path, "utf8") }),
  },
  {
    matches: (name) => name.startsWith("pck_crl_issuer_chain"),
    read: (path) => ({ pckCrlIssuerChain: readFileSync(path, "utf8") }),
  },
];

function addFiles(collateral: TdxCollateral, files: Map<string, string>): void {
  for (const [name, path] of files) {
    const rule = FILE_RULES.find((candidate) => candidate.matches(name));
    if (rule !== undefined) Object.assign(collateral, rule.read(path));
  }
}

/** automata-style `certs/`: DER TCB Signing, PCK Platform CA and root certificates → PEM issuer chains. */
function addCertsFolder(collateral: TdxCollateral, dir: string): void {
  const certs = filesOf(dir);
  const root = certs.get("intel_root_ca.der");
  if (root === undefined) return;
  const chain = (der: string | undefined): string | undefined =>
    der === undefined ? undefined : derToPem(readFileSync(der)) + derToPem(readFileSync(root));
  const signing = chain([...certs].find(([name]) => name.startsWith("tcb_signing"))?.[1]);
  const pckCa = chain(certs.get("pck_platform_ca.der"));
  if (signing !== undefined) {
    collateral.tcbInfoIssuerChain ??= signing;
    collateral.qeIdentityIssuerChain ??= signing;
  }
  if (pckCa !== undefined) collateral.pckCrlIssuerChain ??= pckCa;
}

export function tdxTeeFromItem(dir: string, options: TdxItemOptions = {}): TeeEvidence {
  const files = filesOf(dir);
  const quote = [...files].find(([name]) => name.includes("quote") && /\.(dat|bin)$/.test(name))?.[1];
  if (quote === undefined) throw new Error(`TDX item ${dir} has no quote file`);
  const collateral: TdxCollateral = {};
  addFiles(collateral, files);
  const snapshots = [...files.keys()].filter((name) => name.startsWith("collateral_")).sort();
  const snapshot = options.snapshot === undefined ? snapshots[0] : `collateral_${options.snapshot}`;
  if (snapshot !== undefined) {
    if (!existsSync(join(dir, snapshot))) throw new Error(`TDX item ${dir} has no ${snapshot}`);
    addFiles(collateral, filesOf(join(dir, snapshot)));
  }
  if (files.has("certs")) addCertsFolder(collateral, join(dir, "certs"));
  const tee: TeeEvidence = { type: "tdx", quote: readFileSync(quote).toString("base64") };
  if (Object.keys(collateral).length > 0) tee.collateral = collateral;
  const eventLog = files.get("ccel_data.dat");
  if (eventLog !== undefined) tee.eventLog = readFileSync(eventLog).toString("base64");
  return tee;
}

/** The same evidence with no collateral: the verifier then asks its CollateralSource. */
export function withoutCollateral(tee: TeeEvidence): TeeEvidence {
  const bare = { ...tee };
  delete bare.collateral;
  return bare;
}

/** A whole bundle; the evidence items carry no guest key or nonce, so the caller supplies them. */
export function tdxBundleFromItem(
  dir: string,
  binding: { nonce: string; publicKey: ConfidentialVMStatusEvidencePublicKey },
  options: TdxItemOptions = {},
): EvidenceBundle {
  return { nonce: binding.nonce, publicKey: binding.publicKey, tee: tdxTeeFromItem(dir, options) };
}
