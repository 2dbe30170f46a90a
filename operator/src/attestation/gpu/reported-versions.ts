/**
 * The bundle's `arch`, `driverVersion` and `vbiosVersion` are the guest's word; the signed evidence and the device
 * certificate are the device's. Any difference makes the bundle inconsistent (an error, not an authenticity failure).
 */
import type { VerificationError } from "../types.ts";
import type { GpuEvidenceEntry } from "./checks.ts";
import type { VerifiedDevice } from "./device-chain.ts";
import type { OpaqueClaims } from "./opaque-data.ts";

function mismatch(message: string): VerificationError {
  return { code: "EvidenceMalformed", message };
}

function compare(
  field: string,
  opaqueName: string,
  reported: string | undefined,
  signed: string | undefined,
): VerificationError | undefined {
  if (reported === undefined) return undefined;
  if (signed === undefined)
    return mismatch(`bundle reports ${field} ${reported}; the evidence has no ${opaqueName}`);
  if (reported.toUpperCase() === signed.toUpperCase()) return undefined;
  return mismatch(`bundle reports ${field} ${reported}; the evidence's ${opaqueName} is ${signed}`);
}

/**
 * The `arch` labels that name the verified device: its architecture for a GPU; for an NVSwitch NVIDIA's own `LS10`
 * (what NRAS and NVIDIA's SDKs send) or, as bundles did before, its generation HOPPER.
 */
function archLabels(device: VerifiedDevice): string[] {
  if (device.arch === undefined) return [];
  return device.kind === "switch" ? ["LS10", device.arch] : [device.arch];
}

export function reportedVersionErrors(
  entry: GpuEvidenceEntry,
  opaque: OpaqueClaims,
  device: VerifiedDevice,
): VerificationError[] {
  const errors: VerificationError[] = [];
  if (device.arch === undefined) {
    errors.push(
      mismatch(`the device model ${device.hwmodel} has no known architecture (bundle says ${entry.arch})`),
    );
  } else if (!archLabels(device).includes(entry.arch)) {
    errors.push(
      mismatch(
        `bundle reports arch ${entry.arch}; the device certificate is a ${device.arch} ${device.kind} (${archLabels(device).join(" or ")})`,
      ),
    );
  }
  const driver = compare("driverVersion", "DRIVER_VERSION", entry.driverVersion, opaque.driverVersion);
  const vbios = compare("vbiosVersion", "VBIOS_VERSION", entry.vbiosVersion, opaque.vbiosVersion);
  for (const error of [driver, vbios]) if (error !== undefined) errors.push(error);
  return errors;
}
