import { join } from "node:path";
import type { EvidenceBundle } from "../../src/attestation/types.ts";
import { snpTeeFromItem } from "../../src/attestation/snp/index.ts";
import { tdxTeeFromItem } from "../../src/attestation/tdx/bundle-from-item.ts";
import { MANIFEST_VERDICTS } from "../fixtures/tdx/items.ts";
import { SHARED_REPORT_ITEMS } from "../fixtures/snp/shared-items.ts";
import { REPO_ROOT } from "./samples.ts";

export const SHARED_EVIDENCE = join(REPO_ROOT, "../shared/evidence");

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

/** Every shared TDX and SNP item as a design.md bundle with its manifest's expected outcome. */
export function sharedBundleCases(): SharedBundleCase[] {
  const tdx = MANIFEST_VERDICTS.map((v) => ({
    name: `tdx/${v.item}${v.snapshot === undefined ? "" : ` (${v.snapshot})`} at ${v.at}`,
    bundle: bundle(
      tdxTeeFromItem(
        join(SHARED_EVIDENCE, "tdx", v.item),
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
      bundle: bundle(snpTeeFromItem(join(SHARED_EVIDENCE, "snp", item.item))),
      at: v.at,
      authentic: v.authentic,
      errorCodes: v.code === undefined ? [] : [v.code],
      ...(item.facts.debug ? { policy: { snp: { allowDebug: true } } } : {}),
    })),
  );
  return [...tdx, ...snp];
}
