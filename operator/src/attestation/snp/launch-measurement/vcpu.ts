/**
 * The guest vCPU's identity as the VMSA carries it: at reset, RDX holds the CPUID Fn0000_0001_EAX
 * signature (family, model, stepping; AMD CPUID specification #25481). QEMU fills it from the CPU
 * model the VM is started with, so the measurement depends on the -cpu model.
 */
import { LaunchMeasurementError } from "./errors.ts";

export interface CpuFamilyModelStepping {
  family: number;
  model: number;
  stepping: number;
}

/** vCPU models of QEMU's built-in x86 CPU definitions that run SEV-SNP guests, with their family/model/stepping. */
export const VCPU_TYPES: Readonly<Record<string, CpuFamilyModelStepping>> = {
  EPYC: { family: 23, model: 1, stepping: 2 },
  "EPYC-v1": { family: 23, model: 1, stepping: 2 },
  "EPYC-v2": { family: 23, model: 1, stepping: 2 },
  "EPYC-IBPB": { family: 23, model: 1, stepping: 2 },
  "EPYC-v3": { family: 23, model: 1, stepping: 2 },
  "EPYC-v4": { family: 23, model: 1, stepping: 2 },
  "EPYC-Rome": { family: 23, model: 49, stepping: 0 },
  "EPYC-Rome-v1": { family: 23, model: 49, stepping: 0 },
  "EPYC-Rome-v2": { family: 23, model: 49, stepping: 0 },
  "EPYC-Rome-v3": { family: 23, model: 49, stepping: 0 },
  "EPYC-Milan": { family: 25, model: 1, stepping: 1 },
  "EPYC-Milan-v1": { family: 25, model: 1, stepping: 1 },
  "EPYC-Milan-v2": { family: 25, model: 1, stepping: 1 },
  "EPYC-Genoa": { family: 25, model: 17, stepping: 0 },
  "EPYC-Genoa-v1": { family: 25, model: 17, stepping: 0 },
  "EPYC-Turin": { family: 26, model: 0, stepping: 0 },
};

/** How the caller names the vCPU: a QEMU model name, an explicit signature, or family/model/stepping. */
export type VcpuIdentity = { type: string } | { signature: number } | CpuFamilyModelStepping;

function invalid(message: string): LaunchMeasurementError {
  return new LaunchMeasurementError("InvalidVcpuSignature", message);
}

function checkRange(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max)
    throw invalid(`vCPU ${name} ${value} is not an integer in 0..${max}`);
}

/** CPUID Fn0000_0001_EAX: families above 0xf put 0xf in the base field and the rest in the extended field. */
export function cpuSignature({ family, model, stepping }: CpuFamilyModelStepping): number {
  checkRange("family", family, 0xf + 0xff);
  checkRange("model", model, 0xff);
  checkRange("stepping", stepping, 0xf);
  const baseFamily = Math.min(family, 0xf);
  const extendedFamily = family - baseFamily;
  return (
    ((extendedFamily << 20) | ((model >> 4) << 16) | (baseFamily << 8) | ((model & 0xf) << 4) | stepping) >>>
    0
  );
}

export function resolveVcpuSignature(vcpu: VcpuIdentity): number {
  if ("type" in vcpu) {
    const fms = Object.hasOwn(VCPU_TYPES, vcpu.type) ? VCPU_TYPES[vcpu.type] : undefined;
    if (fms === undefined) {
      throw new LaunchMeasurementError(
        "UnknownVcpuType",
        `unknown vCPU type ${JSON.stringify(vcpu.type)}; known: ${Object.keys(VCPU_TYPES).join(", ")} (or give the signature or family/model/stepping)`,
      );
    }
    return cpuSignature(fms);
  }
  if ("signature" in vcpu) {
    if (!Number.isInteger(vcpu.signature) || vcpu.signature < 0 || vcpu.signature > 0xffffffff) {
      throw invalid(`vCPU signature ${vcpu.signature} is not a 32-bit unsigned integer`);
    }
    return vcpu.signature;
  }
  return cpuSignature(vcpu);
}
