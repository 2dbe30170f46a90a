import { join } from "node:path";
import type { EvidenceBundle, Verdict } from "../../src/attestation/types.ts";
import { snpTeeFromItem } from "./evidence/snp-bundle-from-item.ts";
import { tdxTeeFromItem } from "./evidence/tdx-bundle-from-item.ts";
import { MANIFEST_VERDICTS } from "../fixtures/tdx/items.ts";
import { SHARED_GPU_ITEMS, sharedGpuEntry } from "../fixtures/nvidia/shared-items.ts";
import { SHARED_REPORT_ITEMS } from "../fixtures/snp/shared-items.ts";
import { REPO_ROOT } from "./samples.ts";

export const EVIDENCE_FIXTURES = join(REPO_ROOT, "operator/test/fixtures/evidence");

/** The shared items carry no challenge or guest key: bundles get these fixed ones (binding is then reported, not enforced). */
export const BUNDLE_NONCE = "00".repeat(32);
export const BUNDLE_KEY = {
  kty: "EC" as const,
  crv: "P-256" as const,
  x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
  y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
};

export interface SharedBundleCase {
  name: string;
  bundle: EvidenceBundle;
  at: string;
  /** What the MANIFEST says a correct verifier concludes. */
  authentic: boolean;
  tcbStatus?: string;
  errorCodes: string[];
  /** An AttestationPolicy spec the item satisfies, when its MANIFEST expects acceptance under one. */
  policy?: Record<string, unknown>;
}

function bundle(tee: EvidenceBundle["tee"]): EvidenceBundle {
  return { nonce: BUNDLE_NONCE, publicKey: BUNDLE_KEY, tee };
}

/** Every shared TDX and SNP item as an evidence bundle with its manifest's expected outcome. */
export function sharedBundleCases(): SharedBundleCase[] {
  const tdx = MANIFEST_VERDICTS.map((v) => ({
    name: `tdx/${v.item}${v.snapshot === undefined ? "" : ` (${v.snapshot})`} at ${v.at}`,
    bundle: bundle(
      tdxTeeFromItem(
        join(EVIDENCE_FIXTURES, "tdx", v.item),
        v.snapshot === undefined ? {} : { snapshot: v.snapshot },
      ),
    ),
    at: v.at,
    authentic: v.authentic,
    tcbStatus: v.tcbStatus,
    errorCodes: v.errorCodes,
  }));
  const snp = SHARED_REPORT_ITEMS.flatMap((item) =>
    item.verdicts.map((v) => ({
      name: `snp/${item.item} at ${v.at}`,
      bundle: bundle(snpTeeFromItem(join(EVIDENCE_FIXTURES, "snp", item.item))),
      at: v.at,
      authentic: v.authentic,
      errorCodes: v.code === undefined ? [] : [v.code],
      // A debug guest, or one at another VMPL than 0, satisfies only a policy that allows it (as its MANIFEST says).
      ...(item.facts.debug || item.facts.vmpl !== 0
        ? {
            policy: {
              snp: {
                ...(item.facts.debug ? { allowDebug: true } : {}),
                ...(item.facts.vmpl !== 0 ? { allowedVmpls: [item.facts.vmpl] } : {}),
              },
            },
          }
        : {}),
    })),
  );
  return [...tdx, ...snp];
}

export interface ExpectedGpu {
  authentic: boolean;
  errorCodes: string[];
  nonce: string;
  driverVersion: string;
  vbiosVersion: string;
  measurements: "match" | "mismatch" | "unchecked";
}

export interface SharedGpuBundleCase {
  name: string;
  bundle: EvidenceBundle;
  at: string;
  policy?: Record<string, unknown>;
  /** `trustgate verify --rim-dir` directories (an item's `rims/`). */
  rimDirs?: string[];
  /** Per `gpus[]` entry, what its MANIFEST (or the case's tampering) says verification concludes. */
  gpus: ExpectedGpu[];
  verdict: Verdict;
}

function teeCase(prefix: string, at?: string): SharedBundleCase {
  const found = sharedBundleCases().find(
    (c) =>
      c.name.startsWith(prefix) &&
      (at === undefined || c.at === at) &&
      c.authentic &&
      c.errorCodes.length === 0 &&
      (c.tcbStatus ?? "UpToDate") === "UpToDate",
  );
  if (found === undefined) throw new Error(`no affirming shared ${prefix} case`);
  return found;
}

/** A device without RIMs at hand: driver and VBIOS RIM unavailable (one switch BIOS RIM for an NVSwitch). */
function rimsUnavailable(item: (typeof SHARED_GPU_ITEMS)[number]): string[] {
  return item.deviceType === "switch" ? ["RimUnavailable"] : ["RimUnavailable", "RimUnavailable"];
}

function expectedGpu(
  item: (typeof SHARED_GPU_ITEMS)[number],
  overrides: Partial<ExpectedGpu> = {},
): ExpectedGpu {
  const { nonce, driverVersion, vbiosVersion } = item.facts;
  return {
    authentic: true,
    errorCodes: rimsUnavailable(item),
    nonce,
    driverVersion: driverVersion ?? "",
    vbiosVersion,
    measurements: "unchecked",
    ...overrides,
  };
}

/**
 * Bundles of a shared TEE section (SNP or TDX) plus shared NVIDIA items as `gpus[]`. The GPUs answer other
 * challenges than the TEE's reportData, so they are checked without --nonce. Every NVIDIA device chain is valid
 * from 2022-03-01 on, inside every TEE case's time. Without OCSP, revocation is "unchecked", and without RIMs so are
 * the measurements (RimUnavailable): the verdict is contraindicated unless the policy waives
 * `gpu.requireRevocationCheck` and `gpu.requireRimMatch`, then warning.
 */
export function sharedGpuBundleCases(): SharedGpuBundleCase[] {
  const snp = teeCase("snp/");
  const tdx = teeCase("tdx/");
  // 2025-06-20: inside the validity of the gonvtrust RIM signers (to 2025-06-22) and the 2023 VBIOS RIM of sdk-580.
  const tdx2025 = teeCase("tdx/google-gcp-cos113-ccel", "2025-06-20T00:00:00Z");
  const item = (name: string) => {
    const found = SHARED_GPU_ITEMS.find((i) => i.item === name);
    if (found === undefined) throw new Error(`no NVIDIA item ${name}`);
    return found;
  };
  const waive = (c: SharedBundleCase, gpu: Record<string, unknown> = { requireRimMatch: false }) => ({
    ...c.policy,
    gpu: { requireRevocationCheck: false, ...gpu },
  });
  const withGpus = (c: SharedBundleCase, gpus: EvidenceBundle["gpus"]): EvidenceBundle => ({
    ...c.bundle,
    gpus,
  });
  const rims = (name: string) => join(EVIDENCE_FIXTURES, "nvidia", name, "rims");
  const all = SHARED_GPU_ITEMS;
  const n550 = item("nvtrust-hopper-550");
  const n545 = item("gonvtrust-hopper-545-fullrim");
  const n580 = item("sdk-hopper-580-159");
  const ls10 = item("sdk-nvswitch-ls10");
  const cases: SharedGpuBundleCase[] = [
    {
      name: `${snp.name} + every NVIDIA item, default policy`,
      bundle: withGpus(
        snp,
        all.map((i) => sharedGpuEntry(i)),
      ),
      at: snp.at,
      gpus: all.map((i) => expectedGpu(i)),
      verdict: "contraindicated",
    },
    {
      name: `${snp.name} + every NVIDIA item, RIM match and revocation check waived`,
      bundle: withGpus(
        snp,
        all.map((i) => sharedGpuEntry(i)),
      ),
      at: snp.at,
      policy: waive(snp),
      gpus: all.map((i) => expectedGpu(i)),
      verdict: "warning",
    },
    {
      name: `${tdx.name} + H100 and NVSwitch, RIM match and revocation check waived`,
      bundle: withGpus(tdx, [sharedGpuEntry(n550), sharedGpuEntry(ls10)]),
      at: tdx.at,
      policy: waive(tdx),
      gpus: [expectedGpu(n550), expectedGpu(ls10)],
      verdict: "warning",
    },
    {
      name: `${tdx2025.name} + gonvtrust-hopper-545 with its RIMs (--rim-dir): all 33 measurements match, RIM match required`,
      bundle: withGpus(tdx2025, [sharedGpuEntry(n545)]),
      at: tdx2025.at,
      policy: waive(tdx2025, { requireRimMatch: true }),
      rimDirs: [rims(n545.item)],
      gpus: [expectedGpu(n545, { errorCodes: [], measurements: "match" })],
      verdict: "warning",
    },
    {
      name: `${tdx2025.name} + sdk-hopper-580-159 against its 2023 VBIOS RIM: index 9 mismatches`,
      bundle: withGpus(tdx2025, [sharedGpuEntry(n580)]),
      at: tdx2025.at,
      policy: waive(tdx2025),
      rimDirs: [rims(n580.item)],
      gpus: [
        expectedGpu(n580, {
          errorCodes: ["RimUnavailable", "MeasurementMismatch"],
          measurements: "mismatch",
        }),
      ],
      verdict: "contraindicated",
    },
    {
      name: `${tdx.name} + gonvtrust-hopper-545 with invalidCertChain.pem`,
      bundle: withGpus(tdx, [sharedGpuEntry(n545, { certChainFile: "negative/invalidCertChain.pem" })]),
      at: tdx.at,
      policy: waive(tdx),
      gpus: [expectedGpu(n545, { authentic: false, errorCodes: ["ChainInvalid"] })],
      verdict: "contraindicated",
    },
    {
      name: `${snp.name} + the same H100 twice`,
      bundle: withGpus(snp, [sharedGpuEntry(n550), sharedGpuEntry(n550)]),
      at: snp.at,
      policy: waive(snp),
      gpus: [
        expectedGpu(n550),
        expectedGpu(n550, { errorCodes: [...rimsUnavailable(n550), "DuplicateGpu"] }),
      ],
      verdict: "contraindicated",
    },
    {
      name: `${snp.name} + an H100 whose reported driver differs from its evidence`,
      bundle: withGpus(snp, [sharedGpuEntry(n550, { driverVersion: "550.54.15" })]),
      at: snp.at,
      policy: waive(snp),
      gpus: [expectedGpu(n550, { errorCodes: ["EvidenceMalformed", ...rimsUnavailable(n550)] })],
      verdict: "contraindicated",
    },
    {
      name: `${snp.name} + garbage GPU evidence`,
      bundle: withGpus(snp, [
        { arch: "HOPPER", evidence: Buffer.from("garbage").toString("base64"), certChain: "x" },
      ]),
      at: snp.at,
      policy: waive(snp),
      gpus: [
        {
          authentic: false,
          errorCodes: ["EvidenceMalformed"],
          nonce: "",
          driverVersion: "",
          vbiosVersion: "",
          measurements: "unchecked",
        },
      ],
      verdict: "contraindicated",
    },
  ];
  return cases;
}
