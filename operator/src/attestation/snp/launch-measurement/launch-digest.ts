/**
 * The SEV-SNP launch digest (SNP ABI spec, "Launch Digest Calculation"): every SNP_LAUNCH_UPDATE of
 * a page replaces the digest with SHA-384 over a PAGE_INFO structure holding the previous digest,
 * the page's contents digest, its type and its guest physical address.
 */
import { createHash } from "node:crypto";
import { PAGE_SIZE } from "./ovmf.ts";

export const DIGEST_BYTES = 48;
const PAGE_INFO_BYTES = 0x70;

/** PAGE_TYPE values of SNP_LAUNCH_UPDATE. */
export const PageType = {
  Normal: 0x01,
  Vmsa: 0x02,
  Zero: 0x03,
  Unmeasured: 0x04,
  Secrets: 0x05,
  Cpuid: 0x06,
} as const;

/** The RMP records VMSA pages at GPA -1, page-aligned and cut to 52 address bits. */
export const VMSA_GPA = 0xfffffffff000n;

const ZERO_CONTENTS = new Uint8Array(DIGEST_BYTES);

export function sha384(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha384").update(data).digest());
}

export class LaunchDigest {
  #digest: Uint8Array;

  /** Starts from zero, or from a digest reached earlier (e.g. after the firmware pages). */
  constructor(seed: Uint8Array = new Uint8Array(DIGEST_BYTES)) {
    if (seed.length !== DIGEST_BYTES)
      throw new Error(`launch digest seed is ${seed.length} bytes, expected ${DIGEST_BYTES}`);
    this.#digest = Uint8Array.from(seed);
  }

  get value(): Uint8Array {
    return Uint8Array.from(this.#digest);
  }

  /** One PAGE_INFO update; IMI_PAGE and the VMPL1-3 permissions are zero for a guest launched by its owner. */
  #update(pageType: number, gpa: bigint, contents: Uint8Array): void {
    const info = new Uint8Array(PAGE_INFO_BYTES);
    const view = new DataView(info.buffer);
    info.set(this.#digest, 0x00);
    info.set(contents, 0x30);
    view.setUint16(0x60, PAGE_INFO_BYTES, true);
    view.setUint8(0x62, pageType);
    view.setBigUint64(0x68, gpa, true);
    this.#digest = sha384(info);
  }

  /** PAGE_TYPE_NORMAL pages: their contents are measured. `data` must be whole pages. */
  normalPages(gpa: number, data: Uint8Array): void {
    for (let offset = 0; offset < data.length; offset += PAGE_SIZE) {
      this.#update(PageType.Normal, BigInt(gpa + offset), sha384(data.subarray(offset, offset + PAGE_SIZE)));
    }
  }

  /** Pages measured by type and address only (zero, unmeasured, secrets, CPUID). */
  emptyPages(pageType: number, gpa: number, size: number): void {
    for (let offset = 0; offset < size; offset += PAGE_SIZE)
      this.#update(pageType, BigInt(gpa + offset), ZERO_CONTENTS);
  }

  vmsaPage(vmsa: Uint8Array): void {
    this.#update(PageType.Vmsa, VMSA_GPA, sha384(vmsa));
  }
}
