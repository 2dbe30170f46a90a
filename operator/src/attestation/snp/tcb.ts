/**
 * SEV-SNP product lines and TCB_VERSION decoding (AMD SEV-SNP ABI spec, TCB_VERSION structure).
 * Milan and Genoa: byte 0 bootloader, 1 TEE, 6 SNP, 7 microcode.
 * Turin adds the FMC SVN and moves the others: byte 0 FMC, 1 bootloader, 2 TEE, 3 SNP, 7 microcode.
 */

export const SNP_PRODUCTS = ["Milan", "Genoa", "Turin"] as const;
export type SnpProduct = (typeof SNP_PRODUCTS)[number];

export interface CpuId {
  family: number;
  model: number;
  stepping: number;
}

export interface TcbVersion {
  /** The raw little-endian u64 as 16 lowercase hex digits, most significant first. */
  raw: string;
  bootloader: number;
  tee: number;
  snp: number;
  microcode: number;
  /** Firmware mailbox controller SVN; only Turin and later have it. */
  fmc?: number;
}

export type TcbComponent = "bootloader" | "tee" | "snp" | "microcode" | "fmc";

/** Maps the report's CPUID family/model (report v3+) to a product line; undefined when not an SNP server part. */
export function productFromCpuId(cpuId: CpuId): SnpProduct | undefined {
  const { family, model } = cpuId;
  if (family === 0x19) {
    if (model <= 0x0f) return "Milan";
    if ((model >= 0x10 && model <= 0x1f) || (model >= 0xa0 && model <= 0xaf)) return "Genoa";
    return undefined;
  }
  if (family === 0x1a) return "Turin";
  return undefined;
}

/** Product line of a VCEK/VLEK productName extension such as "Milan-B0", "Genoa" or "Turin". */
export function productFromName(productName: string): SnpProduct | undefined {
  const line = productName.split("-")[0];
  return SNP_PRODUCTS.find((p) => p === line);
}

/** Whether the TCB_VERSION uses the Turin layout (with FMC). */
export function hasFmcLayout(product: SnpProduct | undefined): boolean {
  return product === "Turin";
}

/** Decodes an 8-byte little-endian TCB_VERSION starting at `offset`. */
export function decodeTcbVersion(bytes: Uint8Array, offset: number, turinLayout: boolean): TcbVersion {
  const b = (i: number): number => bytes[offset + i] ?? 0;
  let raw = "";
  for (let i = 7; i >= 0; i--) raw += b(i).toString(16).padStart(2, "0");
  if (turinLayout) {
    return { raw, fmc: b(0), bootloader: b(1), tee: b(2), snp: b(3), microcode: b(7) };
  }
  return { raw, bootloader: b(0), tee: b(1), snp: b(6), microcode: b(7) };
}

/** Components that an endorsement certificate's SPL extensions carry for this layout. */
export function tcbComponents(turinLayout: boolean): TcbComponent[] {
  const common: TcbComponent[] = ["bootloader", "tee", "snp", "microcode"];
  return turinLayout ? [...common, "fmc"] : common;
}
