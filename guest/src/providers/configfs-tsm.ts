/**
 * The real TEE provider: a TDX quote or SEV-SNP report through the kernel's configfs-tsm interface
 * (Documentation/ABI/testing/configfs-tsm-report): make an entry under `<root>`, write REPORT_DATA to `inblob`,
 * read `provider`, `outblob` and `auxblob`, and check that `generation` moved by exactly our one write, so that a
 * concurrent writer to the same entry cannot hand us a report for someone else's data. Then remove the entry.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { TeeEvidence } from "../../../operator/src/attestation/types.ts";
import { snpCertificatesFromAuxblob } from "./sev-cert-table.ts";
import { kernelTsmFilesystem, type TsmFilesystem } from "./tsm-filesystem.ts";
import { DEFAULT_CCEL_PATH, readCcel } from "./ccel.ts";
import type { TeeEvidenceProvider } from "./types.ts";

export const DEFAULT_TSM_ROOT = "/sys/kernel/config/tsm/report";
const SNP_REPORT_SIZE = 1184;
const SNP_SIGNING_KEY_OFFSET = 0x48;

export interface ConfigfsTsmOptions {
  root?: string;
  fs?: TsmFilesystem;
  /** Tries before giving up when the generation check keeps failing (default 3). */
  attempts?: number;
  /** Where a TDX guest's event log (CCEL) is; default /sys/firmware/acpi/tables/data/CCEL. */
  ccelPath?: string;
}

interface TsmOutput {
  provider: string;
  outblob: Uint8Array;
  auxblob: Uint8Array;
}

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function text(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("utf8").trim();
}

/** SIGNING_KEY (bits 4:2 of the u32 at 0x48): 0 VCEK, 1 VLEK. */
function snpSigningKey(report: Uint8Array): "vcek" | "vlek" | "none" {
  const view = new DataView(report.buffer, report.byteOffset, report.byteLength);
  const key = (view.getUint32(SNP_SIGNING_KEY_OFFSET, true) >> 2) & 0x7;
  return key === 0 ? "vcek" : key === 1 ? "vlek" : "none";
}

export function teeEvidenceFromTsm(output: TsmOutput): TeeEvidence {
  switch (output.provider) {
    case "tdx_guest":
      return { type: "tdx", quote: Buffer.from(output.outblob).toString("base64") };
    case "sev_guest": {
      if (output.outblob.length < SNP_REPORT_SIZE)
        throw new Error(
          `configfs-tsm: the SNP report has ${output.outblob.length} bytes, not ${SNP_REPORT_SIZE}`,
        );
      const certificates = snpCertificatesFromAuxblob(output.auxblob);
      const signer = snpSigningKey(output.outblob);
      const leaf = signer === "vlek" ? certificates.vlek : signer === "vcek" ? certificates.vcek : undefined;
      return {
        type: "snp",
        report: Buffer.from(output.outblob).toString("base64"),
        ...(leaf === undefined ? {} : { [signer]: leaf }),
        ...(certificates.certChain === undefined ? {} : { certChain: certificates.certChain }),
      };
    }
    default:
      throw new Error(
        `configfs-tsm: provider ${JSON.stringify(output.provider)} is neither tdx_guest nor sev_guest`,
      );
  }
}

export class ConfigfsTsmProvider implements TeeEvidenceProvider {
  readonly name = "configfs-tsm";
  readonly #root: string;
  readonly #fs: TsmFilesystem;
  readonly #attempts: number;
  readonly #ccelPath: string;

  constructor(options: ConfigfsTsmOptions = {}) {
    this.#root = options.root ?? DEFAULT_TSM_ROOT;
    this.#fs = options.fs ?? kernelTsmFilesystem;
    this.#attempts = options.attempts ?? 3;
    this.#ccelPath = options.ccelPath ?? DEFAULT_CCEL_PATH;
  }

  async collect(reportData: Uint8Array): Promise<TeeEvidence> {
    if (reportData.length !== 64) throw new Error(`REPORT_DATA must be 64 bytes, not ${reportData.length}`);
    for (let attempt = 1; attempt <= this.#attempts; attempt++) {
      const output = await this.#inNewEntry((entry) => this.#generate(entry, reportData));
      if (output === undefined) continue;
      const tee = teeEvidenceFromTsm(output);
      if (tee.type !== "tdx") return tee;
      const eventLog = await readCcel(this.#ccelPath);
      return eventLog === undefined ? tee : { ...tee, eventLog };
    }
    throw new Error(
      `configfs-tsm: the report entry was written by someone else during each of ${this.#attempts} attempts`,
    );
  }

  async #inNewEntry<T>(use: (entry: string) => Promise<T>): Promise<T> {
    const entry = join(this.#root, `trustgate-${process.pid}-${randomBytes(6).toString("hex")}`);
    try {
      await this.#fs.mkdir(entry);
    } catch (error) {
      if (errorCode(error) === "ENOENT")
        throw new Error(
          `configfs-tsm is not available at ${this.#root} (configfs not mounted, or no tdx_guest/sev_guest driver)`,
          { cause: error },
        );
      throw new Error(`configfs-tsm: cannot create ${entry}: ${(error as Error).message}`, { cause: error });
    }
    try {
      return await use(entry);
    } finally {
      await this.#fs.rmdir(entry).catch(() => undefined);
    }
  }

  async #generation(entry: string): Promise<number> {
    const value = Number.parseInt(text(await this.#fs.readFile(join(entry, "generation"))), 10);
    if (!Number.isSafeInteger(value)) throw new Error(`configfs-tsm: ${entry}/generation is not a number`);
    return value;
  }

  /** The report, or undefined when `generation` shows a write that was not ours. */
  async #generate(entry: string, reportData: Uint8Array): Promise<TsmOutput | undefined> {
    const before = await this.#generation(entry);
    await this.#fs.writeFile(join(entry, "inblob"), reportData);
    const provider = text(await this.#fs.readFile(join(entry, "provider")));
    let outblob: Uint8Array;
    try {
      outblob = await this.#fs.readFile(join(entry, "outblob"));
    } catch (error) {
      throw new Error(`configfs-tsm: the ${provider} driver made no report: ${(error as Error).message}`, {
        cause: error,
      });
    }
    let auxblob: Uint8Array = new Uint8Array(0);
    try {
      auxblob = await this.#fs.readFile(join(entry, "auxblob"));
    } catch (error) {
      // Older kernels have no auxblob, and a provider without auxiliary data may refuse the read.
      if (!["ENOENT", "EINVAL", "ENXIO", "EOPNOTSUPP"].includes(errorCode(error) ?? "")) throw error;
    }
    const after = await this.#generation(entry);
    return after === before + 1 ? { provider, outblob, auxblob } : undefined;
  }
}
