/**
 * The collateral flags `trustgate controller`, `trustgate verify` and `trustgate collateral sync` share, and the
 * settings they mean. The controller asks Intel PCS and AMD KDS by default (`off` turns one off, for an air-gapped
 * cluster with a mirror); `verify` stays offline unless a service URL is given.
 */
import { readFile } from "node:fs/promises";
import type { ParseArgsOptionsConfig } from "node:util";
import type { ParsedArgs } from "../cli/command.ts";
import { InputError, UsageError } from "../cli/command.ts";
import type { CollateralServiceSettings } from "../attestation/collateral/collateral-services.ts";
import { INTEL_PCS_URL } from "../attestation/collateral/intel-pcs-source.ts";
import { AMD_KDS_URL } from "../attestation/snp/kds.ts";
import { parseDuration } from "../runtime/duration.ts";

export const COLLATERAL_OPTIONS: ParseArgsOptionsConfig = {
  "intel-pcs-url": { type: "string" },
  "pccs-url": { type: "string" },
  "intel-root-ca-crl-url": { type: "string" },
  "intel-pcs-update": { type: "string" },
  "intel-pcs-api-key-file": { type: "string" },
  "amd-kds-url": { type: "string" },
  "collateral-ca-file": { type: "string" },
  "collateral-dir": { type: "string" },
};

export const CONTROLLER_COLLATERAL_OPTIONS: ParseArgsOptionsConfig = {
  ...COLLATERAL_OPTIONS,
  "collateral-cache-dir": { type: "string" },
  "collateral-deadline": { type: "string" },
  "collateral-stale-grace": { type: "string" },
};

export const COLLATERAL_USAGE = `  --intel-pcs-url <url|off>             Intel PCS v4 (controller default ${INTEL_PCS_URL})
  --pccs-url <url>                      a PCCS instead of Intel PCS (root CA CRL from <url>/sgx/certification/v4/rootcacrl)
  --intel-root-ca-crl-url <url>         where the Intel SGX Root CA CRL is read (default: Intel's, or the PCCS's)
  --intel-pcs-update standard|early     which TCB evaluation PCS serves (default standard)
  --intel-pcs-api-key-file <file>       an Intel PCS subscription key (only PCK certificate endpoints need one)
  --amd-kds-url <url|off>               AMD KDS (controller default ${AMD_KDS_URL})
  --collateral-ca-file <PEM>            trust these CAs instead of the system's for the services above
  --collateral-dir <dir>                an offline mirror (trustgate collateral sync --out), asked first`;

export const CONTROLLER_COLLATERAL_USAGE = `${COLLATERAL_USAGE}
  --collateral-cache-dir <dir>          persist fetched collateral across restarts
  --collateral-deadline <duration>      collateral fetches of one appraisal end after this (default 30s)
  --collateral-stale-grace <duration>   serve cached collateral this long past its nextUpdate when the service
                                        is unreachable, as a warning (default 24h)`;

function text(args: ParsedArgs, name: string): string | undefined {
  const value = args.values[name];
  return typeof value === "string" ? value : undefined;
}

/** An https URL, `off`, or undefined when not given. */
function serviceUrl(args: ParsedArgs, name: string, command: string): string | undefined {
  const value = text(args, name);
  if (value === undefined || value === "off") return value;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`trustgate ${command}: --${name} ${JSON.stringify(value)} is not a URL`);
  }
  if (url.protocol !== "https:")
    throw new UsageError(
      `trustgate ${command}: --${name} must be an https:// URL (or off), not ${url.protocol}`,
    );
  if (url.username !== "" || url.password !== "" || url.search !== "" || url.hash !== "")
    throw new UsageError(`trustgate ${command}: --${name} must be a base URL without credentials or query`);
  return value;
}

function duration(args: ParsedArgs, name: string, fallback: string, command: string): number {
  try {
    return parseDuration(text(args, name) ?? fallback);
  } catch (error) {
    throw new UsageError(`trustgate ${command}: --${name}: ${(error as Error).message}`);
  }
}

export interface CollateralFlagSettings {
  settings: CollateralServiceSettings;
  /** Per-appraisal deadline (controller only). */
  deadlineMs?: number;
}

/**
 * The settings the flags give. `defaults: "services"` (the controller) asks Intel PCS and AMD KDS unless a flag
 * says `off`; `defaults: "offline"` (verify) asks only what is named.
 */
export async function collateralSettingsFromArgs(
  args: ParsedArgs,
  command: string,
  defaults: "services" | "offline",
): Promise<CollateralFlagSettings> {
  const pcs = serviceUrl(args, "intel-pcs-url", command);
  const pccs = serviceUrl(args, "pccs-url", command);
  const kds = serviceUrl(args, "amd-kds-url", command);
  const rootCaCrl = serviceUrl(args, "intel-root-ca-crl-url", command);
  if (pccs === "off")
    throw new UsageError(`trustgate ${command}: --pccs-url takes a URL; use --intel-pcs-url off`);
  if (rootCaCrl === "off")
    throw new UsageError(`trustgate ${command}: --intel-root-ca-crl-url takes a URL, not off`);
  if (pccs !== undefined && pcs !== undefined)
    throw new UsageError(`trustgate ${command}: give --intel-pcs-url or --pccs-url, not both`);
  const update = text(args, "intel-pcs-update");
  if (update !== undefined && update !== "standard" && update !== "early")
    throw new UsageError(`trustgate ${command}: --intel-pcs-update must be standard or early`);

  const settings: CollateralServiceSettings = {};
  const servicesByDefault = defaults === "services";
  if (pccs !== undefined) settings.pccsUrl = pccs;
  else if (pcs !== "off" && (pcs !== undefined || servicesByDefault))
    settings.intelPcsUrl = pcs ?? INTEL_PCS_URL;
  if (kds !== "off" && (kds !== undefined || servicesByDefault)) settings.amdKdsUrl = kds ?? AMD_KDS_URL;
  if (rootCaCrl !== undefined) settings.intelRootCaCrlUrl = rootCaCrl;
  if (update !== undefined) settings.intelPcsUpdate = update;

  const caFile = text(args, "collateral-ca-file");
  if (caFile !== undefined) {
    try {
      settings.caPem = await readFile(caFile, "utf8");
    } catch (error) {
      throw new InputError(
        `trustgate ${command}: cannot read --collateral-ca-file ${caFile}: ${(error as Error).message}`,
      );
    }
    if (!settings.caPem.includes("-----BEGIN CERTIFICATE-----"))
      throw new InputError(`trustgate ${command}: --collateral-ca-file ${caFile} holds no PEM certificate`);
  }
  const keyFile = text(args, "intel-pcs-api-key-file");
  if (keyFile !== undefined) {
    let key: string;
    try {
      key = (await readFile(keyFile, "utf8")).trim();
    } catch (error) {
      throw new InputError(
        `trustgate ${command}: cannot read --intel-pcs-api-key-file ${keyFile}: ${(error as Error).message}`,
      );
    }
    if (!/^[\x21-\x7e]{1,256}$/.test(key))
      throw new InputError(
        `trustgate ${command}: --intel-pcs-api-key-file ${keyFile} does not hold one printable key`,
      );
    settings.intelPcsApiKey = key;
  }
  const mirror = text(args, "collateral-dir");
  if (mirror !== undefined) settings.mirrorDir = mirror;
  if (defaults === "offline") return { settings };

  const cacheDir = text(args, "collateral-cache-dir");
  if (cacheDir !== undefined) settings.cacheDir = cacheDir;
  settings.staleGraceMs = duration(args, "collateral-stale-grace", "24h", command);
  // Refresh ahead by an hour: Intel's and AMD's items live for days to weeks.
  settings.refreshAheadMs = 3600_000;
  return { settings, deadlineMs: duration(args, "collateral-deadline", "30s", command) };
}
