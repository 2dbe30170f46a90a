/**
 * Pure comparison of SPDM measurement blocks with verified RIMs (NVIDIA's rule): every active RIM index i must have
 * a measurement block i + 1 whose value equals one of the index's alternatives; no index may be active in two RIMs
 * of the same device (driver and VBIOS); a RIM must describe the version the evidence reports, be for the device
 * (edition GPU or SWITCH, product GH100/GB100 or LS10), and pin at least one active index (a RIM whose indexes are
 * all inactive would match anything).
 */
import type { VerificationError } from "../../types.ts";
import type { MeasurementBlock } from "../spdm-evidence.ts";
import type { VerifiedRim } from "./rim.ts";

export type RimRole = "driver" | "vbios";

export interface RimForComparison {
  role: RimRole;
  id: string;
  /** The version the evidence reports for this role (DRIVER_VERSION / VBIOS_VERSION). */
  expectedVersion: string;
  /** What the device is, from its verified certificate: RIM `edition` and `product`. */
  expectedDevice: { edition: "GPU" | "SWITCH"; product: string };
  rim: Pick<VerifiedRim, "version" | "measurements" | "edition" | "product">;
}

export interface IndexMismatch {
  role: RimRole;
  /** RIM index; the evidence block is index + 1. */
  index: number;
  actual?: string;
  expected: string[];
}

export interface MeasurementComparison {
  measurements: "match" | "mismatch";
  /** Active indexes compared, and how many matched. */
  active: number;
  matched: number;
  mismatches: IndexMismatch[];
  errors: VerificationError[];
}

/** How many mismatching indexes an error message names. */
const REPORTED_MISMATCHES = 4;

const hexOf = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");

/**
 * RIM digests as bytes, decoded once per distinct text: a GPU's 30+ active blocks are compared without turning
 * each into hex. `null` for text that is not lowercase hex, which never equals a block's (lowercase) hex.
 */
const DIGESTS_KEPT = 8192;
const digestBytes = new Map<string, Uint8Array | null>();

function expectedDigest(hex: string): Uint8Array | null {
  let bytes = digestBytes.get(hex);
  if (bytes === undefined) {
    const decoded = Buffer.from(hex, "hex");
    // Node stops at the first character that is not hex; only an exact round trip stands for the text.
    bytes = decoded.toString("hex") === hex ? decoded : null;
    if (digestBytes.size >= DIGESTS_KEPT) digestBytes.clear();
    digestBytes.set(hex, bytes);
  }
  return bytes;
}

/** The block's value equals one of the alternatives: the same as comparing its lowercase hex with each. */
function matchesOneOf(value: Uint8Array, alternatives: readonly string[]): boolean {
  for (const hex of alternatives) {
    const expected = expectedDigest(hex);
    if (expected === null || expected.length !== value.length) continue;
    let differ = 0;
    for (let i = 0; i < value.length; i++) differ |= (value[i] ?? 0) ^ (expected[i] ?? 0);
    if (differ === 0) return true;
  }
  return false;
}

const short = (hex: string | undefined): string => (hex === undefined ? "absent" : `${hex.slice(0, 16)}…`);

export function compareMeasurements(
  blocks: readonly MeasurementBlock[],
  rims: readonly RimForComparison[],
): MeasurementComparison {
  const errors: VerificationError[] = [];
  for (const { role, id, expectedVersion, expectedDevice, rim } of rims) {
    if (rim.version.toUpperCase() !== expectedVersion.toUpperCase()) {
      errors.push({
        code: "MeasurementMismatch",
        message: `${role} RIM ${id} describes version ${rim.version}, the evidence reports ${expectedVersion}`,
      });
    }
    const { edition, product } = expectedDevice;
    if (rim.edition.toUpperCase() !== edition || rim.product.toUpperCase() !== product.toUpperCase()) {
      errors.push({
        code: "MeasurementMismatch",
        message: `${role} RIM ${id} is for ${rim.edition} ${rim.product}, the device is a ${edition} ${product}`,
      });
    }
    if (!rim.measurements.some((m) => m.active)) {
      errors.push({
        code: "MeasurementMismatch",
        message: `${role} RIM ${id} has no active measurement index`,
      });
    }
  }
  const byBlock = new Map<number, Uint8Array>();
  for (const block of blocks) byBlock.set(block.index, block.value);
  const owner = new Map<number, RimRole>();
  const mismatches: IndexMismatch[] = [];
  let active = 0;
  for (const { role, rim } of rims) {
    for (const m of rim.measurements) {
      if (!m.active) continue;
      const other = owner.get(m.index);
      if (other !== undefined) {
        errors.push({
          code: "MeasurementMismatch",
          message: `measurement index ${m.index} is active in both the ${other} and the ${role} RIM`,
        });
        continue;
      }
      owner.set(m.index, role);
      active++;
      const value = byBlock.get(m.index + 1);
      if (value === undefined || !matchesOneOf(value, m.hashes)) {
        const actual = value === undefined ? undefined : hexOf(value);
        mismatches.push({
          role,
          index: m.index,
          ...(actual === undefined ? {} : { actual }),
          expected: m.hashes,
        });
      }
    }
  }
  mismatches.sort((a, b) => a.index - b.index);
  if (mismatches.length > 0) {
    const named = mismatches
      .slice(0, REPORTED_MISMATCHES)
      .map(
        (m) =>
          `${m.role} index ${m.index} (evidence ${short(m.actual)}, RIM ${m.expected.map(short).join(" | ")})`,
      )
      .join("; ");
    const more =
      mismatches.length > REPORTED_MISMATCHES ? ` and ${mismatches.length - REPORTED_MISMATCHES} more` : "";
    errors.push({
      code: "MeasurementMismatch",
      message: `${mismatches.length} of ${active} active measurements differ from the RIMs: ${named}${more}`,
    });
  }
  return {
    measurements: errors.length === 0 ? "match" : "mismatch",
    active,
    matched: active - mismatches.length,
    mismatches,
    errors,
  };
}
