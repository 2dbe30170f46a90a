/**
 * RIM appraisal of authentic GPU/NVSwitch evidence (the GpuMeasurementAppraiser hook): find the device's driver and
 * VBIOS RIMs (GPU) or switch BIOS RIM (NVSwitch) in the bundle, the configured source or the policy's RIM service,
 * verify them as of `now`, and compare every active index. A definite mismatch wins over a missing RIM; a missing
 * RIM alone leaves the measurements "unchecked" with RimUnavailable, which the policy may tolerate.
 */
import type { X509Certificate } from "node:crypto";
import { EvidenceError, toVerificationError, type VerificationError } from "../../types.ts";
import type {
  AuthenticGpuEvidence,
  GpuAppraisalContext,
  GpuMeasurementAppraiser,
  MeasurementAppraisal,
} from "../checks.ts";
import {
  createAttestationServiceClient,
  type AttestationServiceClient,
  type RequestObserver,
} from "../../collateral/attestation-service-client.ts";
import { compareMeasurements, type RimForComparison, type RimRole } from "./compare.ts";
import { PINNED_RIM_ANCHORS, RimVerifier, type RimTrustAnchors, type VerifiedRim } from "./rim.ts";
import { diskCachedRimSource } from "./rim-disk-cache.ts";
import { cachingRimSource, firstRimSource, rimServiceSource, type RimSource } from "./rim-source.ts";

export interface RimLookup {
  role: RimRole;
  id: string;
  version: string;
}

/** NVSwitch LS10 boards have one project/SKU/chip SKU; the switch's opaque data does not carry them. */
const LS10_BOARD = "5612_0002_890";
const DRIVER_CHIP = { HOPPER: "GH100", BLACKWELL: "GB100" } as const;

const compactVersion = (version: string): string => version.replace(/\./g, "").toUpperCase();

/** The RIM IDs NVIDIA publishes for this evidence (NV_GPU_DRIVER_…, NV_GPU_VBIOS_…, NV_SWITCH_BIOS_…). */
export function rimLookups(evidence: Pick<AuthenticGpuEvidence, "spdm" | "device">): RimLookup[] {
  const { opaque } = evidence.spdm;
  const vbios = opaque.vbiosVersion;
  if (vbios === undefined)
    throw new EvidenceError("EvidenceMalformed", "the evidence has no VBIOS_VERSION to find its RIM");
  if (evidence.device.kind === "switch") {
    return [{ role: "vbios", id: `NV_SWITCH_BIOS_${LS10_BOARD}_${compactVersion(vbios)}`, version: vbios }];
  }
  const { driverVersion, project, projectSku, chipSku } = opaque;
  if (
    driverVersion === undefined ||
    project === undefined ||
    projectSku === undefined ||
    chipSku === undefined
  ) {
    throw new EvidenceError(
      "EvidenceMalformed",
      "the evidence lacks DRIVER_VERSION, PROJECT, PROJECT_SKU or CHIP_SKU needed to find its RIMs",
    );
  }
  const chip = DRIVER_CHIP[evidence.device.arch ?? "HOPPER"];
  return [
    { role: "driver", id: `NV_GPU_DRIVER_${chip}_${driverVersion}`, version: driverVersion },
    {
      role: "vbios",
      id: `NV_GPU_VBIOS_${project}_${projectSku}_${chipSku}_${compactVersion(vbios)}`,
      version: vbios,
    },
  ];
}

/**
 * Whether a verified RIM is the one NVIDIA publishes under `id`: its edition matches the ID's kind and the ID ends in
 * its version (NV_GPU_DRIVER_GH100_545.00 for 545.00, NV_GPU_VBIOS_…_96005E0001 for 96.00.5E.00.01).
 */
export function rimDescribesId(id: string, rim: Pick<VerifiedRim, "edition" | "version">): boolean {
  const edition = id.startsWith("NV_SWITCH_") ? "SWITCH" : id.startsWith("NV_GPU_") ? "GPU" : undefined;
  return rim.edition === edition && compactVersion(id).endsWith(`_${compactVersion(rim.version)}`);
}

/** What a RIM read from a cache must pass: signature and signer chain (validity comes later, at `now`), and its ID. */
export function rimCacheCheck(rims: RimVerifier): (id: string, text: string) => void {
  return (id, text) => {
    const rim = rims.verifySignature(text);
    if (!rimDescribesId(id, rim))
      throw new EvidenceError("EvidenceMalformed", `it is the RIM of ${rim.edition} version ${rim.version}`);
  };
}

/** The RIM `edition` and `product` of the verified device: an LS10 switch, or a GPU of its architecture's chip. */
function deviceOf(evidence: Pick<AuthenticGpuEvidence, "device">): RimForComparison["expectedDevice"] {
  if (evidence.device.kind === "switch") return { edition: "SWITCH", product: "LS10" };
  return { edition: "GPU", product: DRIVER_CHIP[evidence.device.arch ?? "HOPPER"] };
}

export interface RimAppraiserConfig {
  anchors?: RimTrustAnchors;
  /** Consulted after the bundle's own RIMs (e.g. `trustgate verify --rim-dir`). */
  source?: RimSource;
  /** Asks the policy's `rimServiceUrl` (default: a client of its own over the global fetch). */
  client?: AttestationServiceClient;
  onRequest?: RequestObserver;
  cacheEntries?: number;
  /** Keeps RIMs fetched from `source` or a RIM service on disk across restarts; re-verified when read back. */
  cacheDir?: string;
  onCacheProblem?: (id: string, message: string) => void;
}

export interface RimAppraiser extends GpuMeasurementAppraiser {
  readonly rims: RimVerifier;
}

export function createRimAppraiser(config: RimAppraiserConfig = {}): RimAppraiser {
  const rims = new RimVerifier(config.anchors ?? PINNED_RIM_ANCHORS, config.cacheEntries);
  const services = new Map<string, RimSource>();
  let client = config.client;

  function serviceFor(url: string | undefined): RimSource | undefined {
    if (url === undefined) return undefined;
    let source = services.get(url);
    if (source === undefined) {
      source = cachingRimSource(
        rimServiceSource({
          url,
          client: (client ??= createAttestationServiceClient()),
          onRequest: config.onRequest,
        }),
      );
      services.set(url, source);
    }
    return source;
  }

  const cacheDir = config.cacheDir;
  const onDisk = (source: RimSource): RimSource =>
    cacheDir === undefined
      ? source
      : diskCachedRimSource(source, {
          dir: cacheDir,
          check: rimCacheCheck(rims),
          onProblem: config.onCacheProblem,
        });

  async function find(lookup: RimLookup, evidence: AuthenticGpuEvidence, context: GpuAppraisalContext) {
    const inBundle = evidence.entry.rims?.[lookup.role];
    if (inBundle !== undefined) return inBundle;
    const sources = [config.source, serviceFor(context.sources.rimServiceUrl)].filter(
      (source): source is RimSource => source !== undefined,
    );
    const text = await onDisk(firstRimSource(sources)).get(lookup.id);
    if (text !== undefined) return text;
    throw new EvidenceError(
      "RimUnavailable",
      `${lookup.role} RIM ${lookup.id} is not in the bundle or any RIM source`,
    );
  }

  return {
    rims,
    async appraise(evidence, now, context): Promise<MeasurementAppraisal> {
      const errors: VerificationError[] = [];
      const found: RimForComparison[] = [];
      const rimChains: (readonly X509Certificate[])[] = [];
      let incomplete = false;
      let lookups: RimLookup[];
      try {
        lookups = rimLookups(evidence);
      } catch (error) {
        return { measurements: "unchecked", errors: [toVerificationError(error)] };
      }
      for (const lookup of lookups) {
        try {
          const rim = rims.verify(await find(lookup, evidence, context), now);
          found.push({
            role: lookup.role,
            id: lookup.id,
            expectedVersion: lookup.version,
            expectedDevice: deviceOf(evidence),
            rim,
          });
          rimChains.push(rim.signerChain);
        } catch (error) {
          incomplete = true;
          const e = toVerificationError(error);
          errors.push(
            e.code === "RimUnavailable"
              ? e
              : { code: e.code, message: `${lookup.role} RIM ${lookup.id}: ${e.message}` },
          );
        }
      }
      const comparison = compareMeasurements(evidence.spdm.response.blocks, found);
      errors.push(...comparison.errors);
      const measurements =
        comparison.measurements === "mismatch" ? "mismatch" : incomplete ? "unchecked" : "match";
      return {
        measurements,
        errors,
        rimChains,
        compared: { active: comparison.active, matched: comparison.matched },
      };
    },
  };
}
