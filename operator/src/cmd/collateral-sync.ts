/**
 * `trustgate collateral sync --out DIR`: an offline mirror of the Intel and AMD collateral a set of platforms needs,
 * for an air-gapped cluster whose controller runs with `--collateral-dir DIR --intel-pcs-url off --amd-kds-url off`.
 * Everything is fetched first and checked (present, not past its nextUpdate); only then are the files written, each
 * atomically, so a failed sync leaves the previous mirror as it was.
 */
import { randomBytes } from "node:crypto";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { createCollateralServices } from "../attestation/collateral/collateral-services.ts";
import { collateralFileName } from "../attestation/collateral/directory-source.ts";
import * as kinds from "../attestation/collateral/kinds.ts";
import { collateralNextUpdate } from "../attestation/collateral/next-update.ts";
import { SNP_CERT_CHAIN_KIND, SNP_CRL_KIND, SNP_VCEK_KIND } from "../attestation/snp/kds.ts";
import type { CollateralSource } from "../attestation/types.ts";
import { type Command, EXIT_FAILURE, EXIT_OK, type ParsedArgs, UsageError } from "../cli/command.ts";
import { COLLATERAL_OPTIONS, COLLATERAL_USAGE, collateralSettingsFromArgs } from "./collateral-flags.ts";

const USAGE = `Usage: trustgate collateral sync --out <dir> [--fmspc <hex>]... [--amd-product Milan|Genoa|Turin]...
                                  [--vcek <product>/<hwid>?blSPL=..&teeSPL=..&snpSPL=..&ucodeSPL=..]...
                                  [service flags] [--at <RFC3339 time>]

Fetches into <dir> what the controller needs to appraise these platforms without network access:
  Intel (unless --intel-pcs-url off): the SGX Root CA CRL, the PCK CRLs (platform, processor), the TD_QE identity
  and the TDX TCB info of each --fmspc, with their issuer chains;
  AMD (unless --amd-kds-url off): the ASK/ASVK+ARK chains and CRLs of each --amd-product (default all three) and
  each --vcek named (its key as the KDS path; VCEKs never change for a chip and TCB).
Every dated item must be current (--at, default now); nothing is written unless everything was fetched.
Run it again before the items' nextUpdate (Intel: about 30 days; AMD CRLs: see the output's nextUpdate).

${COLLATERAL_USAGE}`;

const PRODUCTS = ["Milan", "Genoa", "Turin"] as const;

interface Wanted {
  kind: string;
  key: string;
}

interface Fetched extends Wanted {
  bytes: Uint8Array;
  nextUpdate?: Date;
}

function list(args: ParsedArgs, name: string): string[] {
  const value = args.values[name];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

function wantedItems(args: ParsedArgs, intel: boolean, amd: boolean): Wanted[] {
  const wanted: Wanted[] = [];
  if (intel) {
    wanted.push({ kind: kinds.SGX_ROOT_CA_CRL, key: kinds.ROOT_CA_KEY });
    for (const ca of ["platform", "processor"]) {
      wanted.push({ kind: kinds.SGX_PCK_CRL, key: ca }, { kind: kinds.SGX_PCK_CRL_ISSUER_CHAIN, key: ca });
    }
    wanted.push(
      { kind: kinds.TDX_QE_IDENTITY, key: kinds.TD_QE_KEY },
      { kind: kinds.TDX_QE_IDENTITY_ISSUER_CHAIN, key: kinds.TD_QE_KEY },
    );
    for (const fmspc of list(args, "fmspc")) {
      if (!/^[0-9a-fA-F]{12}$/.test(fmspc))
        throw new UsageError(
          `trustgate collateral sync: --fmspc ${JSON.stringify(fmspc)} is not 6 bytes of hex`,
        );
      const key = kinds.tcbInfoKey(fmspc);
      wanted.push({ kind: kinds.TDX_TCB_INFO, key }, { kind: kinds.TDX_TCB_INFO_ISSUER_CHAIN, key });
    }
  }
  if (amd) {
    const products = list(args, "amd-product");
    for (const product of products.length === 0 ? PRODUCTS : products) {
      if (!(PRODUCTS as readonly string[]).includes(product))
        throw new UsageError(
          `trustgate collateral sync: --amd-product must be one of ${PRODUCTS.join(", ")}`,
        );
      for (const endorsement of ["vcek", "vlek"]) {
        wanted.push({ kind: SNP_CERT_CHAIN_KIND, key: `${product}/${endorsement}` });
      }
      wanted.push({ kind: SNP_CRL_KIND, key: `${product}/vcek` });
    }
    for (const key of list(args, "vcek")) wanted.push({ kind: SNP_VCEK_KIND, key });
  }
  return wanted;
}

/** The FMSPC a TCB info body names when it is not the one asked for ("unreadable" when it names none). */
function otherFmspc(bytes: Uint8Array, fmspc: string): string | undefined {
  try {
    const body = JSON.parse(Buffer.from(bytes).toString("utf8")) as { tcbInfo?: { fmspc?: unknown } };
    const named = body.tcbInfo?.fmspc;
    if (typeof named !== "string") return "unreadable";
    return named.toLowerCase() === fmspc ? undefined : named.toLowerCase();
  } catch {
    return "unreadable";
  }
}

async function fetchAll(source: CollateralSource, wanted: Wanted[], at: Date): Promise<Fetched[]> {
  const problems: string[] = [];
  const fetched = await Promise.all(
    wanted.map(async (item): Promise<Fetched | undefined> => {
      try {
        const bytes = await source.get(item.kind, item.key);
        if (bytes === undefined) {
          problems.push(`${item.kind} ${item.key}: not found`);
          return undefined;
        }
        const mismatch = item.kind === kinds.TDX_TCB_INFO ? otherFmspc(bytes, item.key) : undefined;
        if (mismatch !== undefined) {
          problems.push(`${item.kind} ${item.key}: the service answered the TCB info of FMSPC ${mismatch}`);
          return undefined;
        }
        const nextUpdate = collateralNextUpdate(bytes);
        if (nextUpdate !== undefined && nextUpdate <= at) {
          problems.push(`${item.kind} ${item.key}: expired (nextUpdate ${nextUpdate.toISOString()})`);
          return undefined;
        }
        return { ...item, bytes, ...(nextUpdate === undefined ? {} : { nextUpdate }) };
      } catch (error) {
        problems.push(`${item.kind} ${item.key}: ${(error as Error).message}`);
        return undefined;
      }
    }),
  );
  if (problems.length > 0)
    throw new Error(
      `nothing written; ${String(problems.length)} item(s) failed:\n  ${problems.join("\n  ")}`,
    );
  return fetched.filter((item) => item !== undefined);
}

async function writeMirror(out: string, items: Fetched[]): Promise<void> {
  for (const item of items) {
    const name = collateralFileName(item.kind, item.key);
    if (name === undefined) throw new Error(`${item.kind} ${item.key}: not a safe file name`);
    const path = join(out, name);
    await mkdir(dirname(path), { recursive: true });
    const temporary = `${path}.${randomBytes(6).toString("hex")}.tmp`;
    try {
      await writeFile(temporary, item.bytes, { mode: 0o644 });
      await rename(temporary, path);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
  }
}

function syncAt(args: ParsedArgs): Date {
  const value = args.values["at"];
  if (typeof value !== "string") return new Date();
  const at = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(value) || Number.isNaN(at.getTime()))
    throw new UsageError(`trustgate collateral sync: --at ${JSON.stringify(value)} is not an RFC 3339 time`);
  return at;
}

export const collateralCommand: Command = {
  name: "collateral",
  summary: "Mirror Intel and AMD attestation collateral for air-gapped clusters (collateral sync)",
  usage: USAGE,
  options: {
    ...COLLATERAL_OPTIONS,
    out: { type: "string" },
    fmspc: { type: "string", multiple: true },
    "amd-product": { type: "string", multiple: true },
    vcek: { type: "string", multiple: true },
    at: { type: "string" },
  },
  async run(args, io) {
    if (args.positionals.length !== 1 || args.positionals[0] !== "sync")
      throw new UsageError("trustgate collateral: the only subcommand is sync");
    const out = args.values["out"];
    if (typeof out !== "string" || out === "")
      throw new UsageError("trustgate collateral sync: --out <dir> is required");
    if (typeof args.values["collateral-dir"] === "string")
      throw new UsageError("trustgate collateral sync: --collateral-dir is what sync writes; use --out");
    const at = syncAt(args);
    const { settings } = await collateralSettingsFromArgs(args, "collateral sync", "services");
    const wanted = wantedItems(
      args,
      settings.intelPcsUrl !== undefined || settings.pccsUrl !== undefined,
      settings.amdKdsUrl !== undefined,
    );
    if (wanted.length === 0)
      throw new UsageError("trustgate collateral sync: both services are off; nothing to fetch");
    const services = await createCollateralServices(settings);
    let items: Fetched[];
    try {
      items = await fetchAll(services.source, wanted, at);
    } catch (error) {
      io.stderr(`trustgate collateral sync: ${(error as Error).message}\n`);
      return EXIT_FAILURE;
    }
    await writeMirror(out, items);
    const summary = items.map((item) => ({
      kind: item.kind,
      key: item.key,
      file: collateralFileName(item.kind, item.key),
      bytes: item.bytes.length,
      ...(item.nextUpdate === undefined ? {} : { nextUpdate: item.nextUpdate.toISOString() }),
    }));
    io.stdout(`${JSON.stringify({ out, from: services.describe, items: summary }, null, 2)}\n`);
    return EXIT_OK;
  },
};
