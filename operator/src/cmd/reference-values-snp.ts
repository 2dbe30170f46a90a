/**
 * `trustgate reference-values snp`: the SEV-SNP launch MEASUREMENT values to pin in
 * AttestationPolicy.spec.snp.measurement for an OVMF image and the VM shapes it will boot.
 * Exported for the `reference-values` command to dispatch to; not registered on its own.
 */
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { basename } from "node:path";
import { type Command, EXIT_FAILURE, EXIT_OK, type ParsedArgs, UsageError } from "../cli/command.ts";
import {
  checkGuestFeatures,
  checkVcpuCount,
  computeSnpLaunchMeasurement,
  LaunchMeasurementError,
  MAX_OVMF_BYTES,
  measureFirmware,
  parseOvmf,
  parseVmmType,
  resolveVcpuSignature,
  type VcpuIdentity,
  type VmmType,
} from "../attestation/snp/launch-measurement/index.ts";

const NAME = "reference-values snp";
const USAGE = `Usage: trustgate ${NAME} --ovmf FILE --vcpus N[,N...] [vCPU] [--vmm-type QEMU|ec2|gce]
       [--guest-features 0x1] [--name POLICY] [-o yaml|json|hex]
  vCPU (QEMU): --vcpu-type EPYC-v4|EPYC-Milan|EPYC-Genoa|... | --vcpu-sig 0xA00F11
               | --vcpu-family F --vcpu-model M --vcpu-stepping S
Prints the expected SEV-SNP launch MEASUREMENT for each vCPU count: an AttestationPolicy (yaml, default),
a JSON report, or one hex digest per line. SNP measures only the firmware and the initial vCPU state.`;

export interface SnpReferenceValues {
  ovmf: { file: string; bytes: number; sha256: string; firmwareDigest: string };
  vmm: VmmType;
  vcpuSignature: string | null;
  guestFeatures: string;
  measurements: { vcpus: number; measurement: string }[];
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

function single(args: ParsedArgs, name: string): string | undefined {
  const value = args.values[name];
  return typeof value === "string" ? value : undefined;
}

function integerArg(args: ParsedArgs, name: string): number | undefined {
  const text = single(args, name);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === "" || !Number.isInteger(value))
    throw new UsageError(`trustgate ${NAME}: --${name} ${text} is not an integer`);
  return value;
}

function vcpuCounts(args: ParsedArgs): number[] {
  const raw = args.values["vcpus"];
  const texts = (Array.isArray(raw) ? raw : [])
    .filter((v) => typeof v === "string")
    .flatMap((v) => v.split(","));
  if (texts.length === 0) throw new UsageError(`trustgate ${NAME}: --vcpus is required`);
  return texts.map((text) => {
    const n = Number(text);
    if (text.trim() === "" || !Number.isInteger(n))
      throw new UsageError(`trustgate ${NAME}: --vcpus ${text} is not an integer`);
    checkVcpuCount(n);
    return n;
  });
}

function vcpuIdentity(args: ParsedArgs): VcpuIdentity | undefined {
  const type = single(args, "vcpu-type");
  const signature = integerArg(args, "vcpu-sig");
  const family = integerArg(args, "vcpu-family");
  const given = [type !== undefined, signature !== undefined, family !== undefined].filter(Boolean).length;
  if (given > 1)
    throw new UsageError(`trustgate ${NAME}: give only one of --vcpu-type, --vcpu-sig, --vcpu-family`);
  if (type !== undefined) return { type };
  if (signature !== undefined) return { signature };
  if (family === undefined) return undefined;
  const model = integerArg(args, "vcpu-model");
  const stepping = integerArg(args, "vcpu-stepping");
  if (model === undefined || stepping === undefined) {
    throw new UsageError(`trustgate ${NAME}: --vcpu-family needs --vcpu-model and --vcpu-stepping`);
  }
  return { family, model, stepping };
}

function guestFeatures(args: ParsedArgs): bigint {
  const text = single(args, "guest-features") ?? "0x1";
  if (!/^(0x[0-9a-f]+|[0-9]+)$/i.test(text))
    throw new UsageError(`trustgate ${NAME}: --guest-features ${text} is not a number`);
  return BigInt(text);
}

async function readOvmf(file: string): Promise<Uint8Array> {
  const info = await stat(file);
  if (!info.isFile()) throw new Error(`${file} is not a regular file`);
  if (info.size > MAX_OVMF_BYTES)
    throw new Error(`${file} is ${info.size} bytes, more than any OVMF image (${MAX_OVMF_BYTES})`);
  return new Uint8Array(await readFile(file));
}

export function computeSnpReferenceValues(
  file: string,
  image: Uint8Array,
  options: { vcpus: number[]; vcpu: VcpuIdentity | undefined; vmm: VmmType; guestFeatures: bigint },
): SnpReferenceValues {
  const ovmf = parseOvmf(image);
  checkGuestFeatures(options.guestFeatures);
  const firmwareDigest = measureFirmware(ovmf);
  const measurements = options.vcpus.map((vcpus) => ({
    vcpus,
    measurement: hex(computeSnpLaunchMeasurement(ovmf, { ...options, vcpus }, firmwareDigest)),
  }));
  const signature =
    options.vmm === "QEMU" && options.vcpu !== undefined ? resolveVcpuSignature(options.vcpu) : undefined;
  return {
    ovmf: {
      file: basename(file),
      bytes: image.length,
      sha256: createHash("sha256").update(image).digest("hex"),
      firmwareDigest: hex(firmwareDigest),
    },
    vmm: options.vmm,
    vcpuSignature: signature === undefined ? null : `0x${signature.toString(16)}`,
    guestFeatures: `0x${options.guestFeatures.toString(16)}`,
    measurements,
  };
}

/** An AttestationPolicy pinning the measurements, with comments saying what each value depends on. */
export function renderSnpReferencePolicy(values: SnpReferenceValues, name: string): string {
  const cpu =
    values.vcpuSignature === null
      ? `${values.vmm}'s fixed vCPU state`
      : `vCPU signature ${values.vcpuSignature}`;
  return [
    `# SEV-SNP launch measurements computed by trustgate ${NAME}.`,
    `# Firmware: ${values.ovmf.file} (${values.ovmf.bytes} bytes, sha256 ${values.ovmf.sha256}), the exact image QEMU loads.`,
    `# Each value also depends on the vCPU count, ${cpu}, VMM ${values.vmm} and SEV_FEATURES ${values.guestFeatures}.`,
    "# SNP launch measures only the firmware and the initial vCPU state: the guest kernel, initrd, command",
    "# line and disk are NOT measured under KubeVirt (no kernel hashes, IGVM or HOST_DATA).",
    "apiVersion: trustgate.io/v1alpha1",
    "kind: AttestationPolicy",
    "metadata:",
    `  name: ${name}`,
    "spec:",
    "  snp:",
    "    measurement:",
    ...values.measurements.map(
      (m) => `      - "${m.measurement}" # ${m.vcpus} vCPU${m.vcpus === 1 ? "" : "s"}`,
    ),
    "",
  ].join("\n");
}

export const referenceValuesSnpCommand: Command = {
  name: NAME,
  summary: "Compute SEV-SNP launch measurements of an OVMF image to pin in an AttestationPolicy",
  usage: USAGE,
  options: {
    ovmf: { type: "string" },
    vcpus: { type: "string", multiple: true },
    "vcpu-type": { type: "string" },
    "vcpu-sig": { type: "string" },
    "vcpu-family": { type: "string" },
    "vcpu-model": { type: "string" },
    "vcpu-stepping": { type: "string" },
    "vmm-type": { type: "string" },
    "guest-features": { type: "string" },
    name: { type: "string" },
    output: { type: "string", short: "o" },
  },
  async run(args, io) {
    const file = single(args, "ovmf");
    if (file === undefined) throw new UsageError(`trustgate ${NAME}: --ovmf is required`);
    const output = single(args, "output") ?? "yaml";
    if (!["yaml", "json", "hex"].includes(output))
      throw new UsageError(`trustgate ${NAME}: -o ${output}: use yaml, json or hex`);
    if (args.positionals.length > 0)
      throw new UsageError(`trustgate ${NAME}: unexpected argument ${args.positionals[0] ?? ""}`);
    const name = single(args, "name") ?? "snp-launch-measurement";
    if (name.length > 253 || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name)) {
      throw new UsageError(
        `trustgate ${NAME}: --name ${name} is not a valid object name (lowercase DNS subdomain)`,
      );
    }
    try {
      const vcpus = vcpuCounts(args);
      const vcpu = vcpuIdentity(args);
      const features = guestFeatures(args);
      const vmm = parseVmmType(single(args, "vmm-type") ?? "QEMU");
      const values = computeSnpReferenceValues(file, await readOvmf(file), {
        vcpus,
        vcpu,
        vmm,
        guestFeatures: features,
      });
      if (output === "json") io.stdout(`${JSON.stringify(values, null, 2)}\n`);
      else if (output === "hex") io.stdout(values.measurements.map((m) => `${m.measurement}\n`).join(""));
      else io.stdout(renderSnpReferencePolicy(values, name));
      return EXIT_OK;
    } catch (error) {
      if (error instanceof UsageError) throw error;
      const reason = error instanceof LaunchMeasurementError ? ` (${error.reason})` : "";
      io.stderr(`trustgate ${NAME}: ${(error as Error).message}${reason}\n`);
      return EXIT_FAILURE;
    }
  },
};
