/**
 * Offline collateral: files in one directory (`trustgate verify --collateral-dir`). Intel items use Intel's
 * names (`tcb-info-<fmspc>.json` = the PCS TCB info response body, `qe-identity.json`, `pck-crl-platform.der`,
 * `root-ca-crl.der`, `<item>-issuer-chain.pem`); any other kind is read from `<kind>/<key>`.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { CollateralSource } from "../types.ts";
import * as kinds from "./kinds.ts";

const FILE_NAMES: Record<string, (key: string) => string> = {
  [kinds.TDX_TCB_INFO]: (fmspc) => `tcb-info-${fmspc}.json`,
  [kinds.TDX_TCB_INFO_ISSUER_CHAIN]: (fmspc) => `tcb-info-${fmspc}-issuer-chain.pem`,
  [kinds.TDX_QE_IDENTITY]: () => "qe-identity.json",
  [kinds.TDX_QE_IDENTITY_ISSUER_CHAIN]: () => "qe-identity-issuer-chain.pem",
  [kinds.SGX_PCK_CRL]: (ca) => `pck-crl-${ca}.der`,
  [kinds.SGX_PCK_CRL_ISSUER_CHAIN]: (ca) => `pck-crl-${ca}-issuer-chain.pem`,
  [kinds.SGX_ROOT_CA_CRL]: () => "root-ca-crl.der",
};

/** The file for an item, or undefined when the key could escape the directory. */
export function collateralFileName(kind: string, key: string): string | undefined {
  const segments = [kind, ...key.split("/")];
  if (segments.some((segment) => segment === "" || segment === "." || segment === "..")) return undefined;
  if (segments.some((segment) => segment.includes("\\") || segment.includes("\0"))) return undefined;
  const known = FILE_NAMES[kind];
  return known === undefined ? join(...segments) : known(key);
}

export function createDirectorySource(directory: string): CollateralSource {
  return {
    async get(kind: string, key: string): Promise<Uint8Array | undefined> {
      const name = collateralFileName(kind, key);
      if (name === undefined) return undefined;
      try {
        return new Uint8Array(await readFile(join(directory, name)));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw error;
      }
    },
  };
}
