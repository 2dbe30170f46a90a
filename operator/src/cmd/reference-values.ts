import { readFile } from "node:fs/promises";
import type { Appraisal } from "../attestation/appraise.ts";
import { parseBundle } from "../attestation/bundle.ts";
import { renderTdxReferencePolicy } from "../attestation/reference-values/render-policy.ts";
import {
  tdxReferenceValuesFromAppraisal,
  tdxReferenceValuesFromBundle,
  type TdxReferenceValues,
} from "../attestation/reference-values/tdx-reference-values.ts";
import { EvidenceError } from "../attestation/types.ts";
import { type Command, EXIT_OK, type ParsedArgs, UsageError } from "../cli/command.ts";
import { referenceValuesSnpCommand } from "./reference-values-snp.ts";

const USAGE = `Usage: trustgate reference-values --from <bundle.json | verify-output.json | self-check.json> [--name <policy name>]

Prints an AttestationPolicy (YAML) pinning the measurements of one known-good boot: MRTD, MRSEAM and RTMR0 from
the TDX quote, and the event-level claims of its replayed event log (kernel, initrd, kernel command line, Secure
Boot variables), each with a comment saying what it depends on. --from takes an evidence bundle (a
ConfidentialVM's status.evidence; its event log must replay to the quote's RTMRs), the JSON \`trustgate verify\`
printed for one, or the self-check summary \`trustgate guest\` logs in the CVM (its "selfCheck" field). The values are only as good as the boot they come from: take them from a VM you trust.
Exit status: 0 printed, 2 the input could not be read or holds no usable TDX evidence.

SEV-SNP: the launch MEASUREMENT is computed from the firmware, not taken from a boot (under KubeVirt SNP measures
only OVMF and the initial vCPU state; docs/snp-launch-measurement.md):

${referenceValuesSnpCommand.usage.replace(/^Usage: /, "")}`;

function stringFlag(args: ParsedArgs, name: string): string | undefined {
  const value = args.values[name];
  return typeof value === "string" ? value : undefined;
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new UsageError(`trustgate reference-values: cannot read ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new UsageError(`trustgate reference-values: ${path} is not JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

function teeType(document: unknown): unknown {
  return (document as { tee?: { type?: unknown } } | null)?.tee?.type;
}

/** `trustgate verify` output and the guest's self-check summary have a verdict; a bundle has a nonce and tee evidence. */
function referenceValues(document: unknown, path: string): TdxReferenceValues {
  const type = teeType(document);
  if (type === "snp") {
    throw new UsageError(
      `trustgate reference-values: ${path} is SNP evidence, whose launch MEASUREMENT is computed from the ` +
        "firmware, not read from a boot: trustgate reference-values snp --ovmf <OVMF.fd> --vcpus <N> ...",
    );
  }
  if (type !== "tdx") {
    throw new UsageError(
      `trustgate reference-values: ${path} holds no TDX evidence (tee.type ${JSON.stringify(type ?? null)})`,
    );
  }
  if (typeof (document as { verdict?: unknown }).verdict === "string") {
    return tdxReferenceValuesFromAppraisal(document as Appraisal);
  }
  const parsed = parseBundle(document);
  if (!parsed.ok) {
    const problems = parsed.errors.map((error) => error.message).join("; ");
    throw new UsageError(
      `trustgate reference-values: ${path} is neither an evidence bundle nor verify output: ${problems}`,
    );
  }
  return tdxReferenceValuesFromBundle(parsed.bundle);
}

export const referenceValuesCommand: Command = {
  name: "reference-values",
  summary: "Print an AttestationPolicy pinning the measurements of a known-good boot",
  usage: USAGE,
  options: { from: { type: "string" }, ...referenceValuesSnpCommand.options },
  async run(args, io) {
    if (args.positionals[0] === "snp") {
      if (args.values["from"] !== undefined)
        throw new UsageError(
          "trustgate reference-values snp: --from is for TDX; SNP is computed from --ovmf",
        );
      return referenceValuesSnpCommand.run({ ...args, positionals: args.positionals.slice(1) }, io);
    }
    const snpOnly = Object.keys(referenceValuesSnpCommand.options).filter(
      (flag) => flag !== "name" && args.values[flag] !== undefined,
    );
    if (snpOnly.length > 0)
      throw new UsageError(
        `trustgate reference-values: --${snpOnly[0] ?? ""} is for SNP: trustgate reference-values snp --ovmf ...`,
      );
    const from = stringFlag(args, "from");
    if (from === undefined || args.positionals.length > 0) {
      throw new UsageError(
        "trustgate reference-values: give --from <bundle.json | verify-output.json | self-check.json>",
      );
    }
    const name = stringFlag(args, "name") ?? "reference-values";
    if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(name)) {
      throw new UsageError(
        `trustgate reference-values: --name ${JSON.stringify(name)} is not a Kubernetes object name`,
      );
    }
    const document = await readJson(from);
    let values: TdxReferenceValues;
    try {
      values = referenceValues(document, from);
    } catch (error) {
      if (error instanceof EvidenceError) {
        throw new UsageError(`trustgate reference-values: ${from}: ${error.code}: ${error.message}`, {
          cause: error,
        });
      }
      throw error;
    }
    io.stdout(renderTdxReferencePolicy(values, name, from));
    return EXIT_OK;
  },
};
