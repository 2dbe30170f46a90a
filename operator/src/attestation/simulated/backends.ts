/**
 * Verifier backends that trust the pinned vendor roots AND the simulated roots of a test trust-roots file: what the
 * controller runs with `--test-trust-roots` (tests and demos only). The verifiers themselves are the real ones.
 * TDX quotes go to the pinned verifier unless their PCK chain ends in a simulated SGX root of the file.
 */
import { X509Certificate } from "node:crypto";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { createLocalGpuVerifier, PINNED_NVIDIA_ANCHORS } from "../gpu/index.ts";
import { createOcspRevocationChecker } from "../gpu/ocsp/revocation.ts";
import { directoryOcspSource, type OcspSource } from "../gpu/ocsp/ocsp-source.ts";
import { createRimAppraiser } from "../gpu/rim/rim-measurement-check.ts";
import { PINNED_RIM_ANCHORS } from "../gpu/rim/rim.ts";
import type { RimSource } from "../gpu/rim/rim-source.ts";
import { defaultTeeBackends } from "../registry.ts";
import { appraiseSnp, createSnpVerifier, PINNED_AMD_ANCHORS } from "../snp/index.ts";
import { appraiseTdx } from "../tdx/appraise-tdx.ts";
import type { TdxTrustAnchors } from "../tdx/trust-anchors.ts";
import { tdxVerifier } from "../tdx/verifier.ts";
import { createTdxVerifierByRoot } from "../tdx/verifier-by-root.ts";
import type { AttestationBackends } from "../appraise.ts";
import { simulatedOcspSource } from "./nvidia-ocsp.ts";
import { simulatedCollateralSource } from "./collateral-routes.ts";
import { loadSimPkiIfPresent, loadSimulatedOcspResponders, PREPRODUCED_OCSP_DIR } from "./sim-pki.ts";
import { loadTestTrustRoots, type TestTdxRoots, type TestTrustRoots } from "./test-trust-roots.ts";

export type VerifierBackends = Required<Pick<AttestationBackends, "tees" | "gpus">> &
  Pick<AttestationBackends, "collateral">;

/** One TDX anchor set per simulated SGX root, with the TCB Signing certificates that root issued. */
export function simulatedTdxAnchors(tdx: TestTdxRoots): TdxTrustAnchors[] {
  const signers = tdx.tcbSigning.map((pem) => new X509Certificate(pem));
  return tdx.roots.map((pem) => {
    const root = new X509Certificate(pem);
    return {
      root,
      tcbSigningCertificates: signers.filter((cert) => cert.checkIssued(root) && cert.verify(root.publicKey)),
    };
  });
}

export function backendsTrusting(
  roots: TestTrustRoots,
  options: { ocsp?: readonly OcspSource[]; rims?: RimSource } = {},
): VerifierBackends {
  const snp = createSnpVerifier({
    anchors: {
      arks: [...PINNED_AMD_ANCHORS.arks, ...roots.snp.arks],
      intermediates: PINNED_AMD_ANCHORS.intermediates,
    },
  });
  const tdx = createTdxVerifierByRoot(tdxVerifier, simulatedTdxAnchors(roots.tdx));
  return {
    tees: {
      ...defaultTeeBackends(),
      tdx: { verifier: tdx, appraise: appraiseTdx },
      snp: { verifier: snp, appraise: appraiseSnp },
    },
    gpus: createLocalGpuVerifier({
      anchors: { roots: [...PINNED_NVIDIA_ANCHORS.roots, ...roots.gpu.roots] },
      measurements: createRimAppraiser({
        anchors: { roots: [...PINNED_RIM_ANCHORS.roots, ...roots.gpuRim.roots] },
        ...(options.rims === undefined ? {} : { source: options.rims }),
      }),
      ...(options.ocsp === undefined
        ? {}
        : { revocation: createOcspRevocationChecker({ sources: options.ocsp }) }),
    }),
  };
}

/**
 * Backends for `--test-trust-roots <file>`. When the file lies in a whole simulated PKI directory (with its CA keys,
 * as hack/sim-pki.ts writes it), that PKI also answers in-process for the services: OCSP by its simulated
 * responders, and the collateral the evidence lacks (TDX TCB info, QE identity, CRLs; SNP VCEKs and chains) by the
 * simulated PCS and KDS routes. A caller that fetches collateral over HTTPS instead (the simulated services,
 * collateral-services.ts) sets `collateral` to its own source, which replaces this one. A trust-roots file alone
 * (public roots only) gets neither.
 */
export async function simulatedBackends(trustRootsFile: string): Promise<VerifierBackends> {
  const dir = dirname(trustRootsFile);
  const responders = await loadSimulatedOcspResponders(dir);
  const pki = await loadSimPkiIfPresent(dir);
  const preproduced = join(dir, PREPRODUCED_OCSP_DIR);
  const ocsp = [
    ...(existsSync(preproduced) ? [directoryOcspSource(preproduced)] : []),
    simulatedOcspSource(responders),
  ];
  return {
    ...backendsTrusting(await loadTestTrustRoots(trustRootsFile), {
      ...(responders.length === 0 ? {} : { ocsp }),
    }),
    ...(pki === undefined ? {} : { collateral: simulatedCollateralSource(pki) }),
  };
}
