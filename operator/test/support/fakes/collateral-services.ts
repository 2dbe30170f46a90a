/**
 * The simulated Intel PCCS and AMD KDS (operator/src/attestation/simulated/collateral-services.ts) serving the real
 * evidence fixtures' collateral: the dcapqvl TDX item's and the Google Milan SNP item's. Real quotes and reports
 * then verify through the production fetch path.
 */
import { join } from "node:path";
import {
  startSimulatedCollateralServices,
  type SimulatedCollateralServices,
} from "../../../src/attestation/simulated/collateral-services.ts";
import { kdsFromItem, pccsFromItem } from "../../../src/attestation/simulated/item-collateral-routes.ts";
import { SNP_EVIDENCE_DIR } from "../../fixtures/snp/shared-items.ts";
import { SHARED_TDX_DIR } from "../../fixtures/tdx/items.ts";

/** The TDX item whose collateral the PCCS serves, and the SNP item (product, chain file) whose VCEK the KDS serves. */
export const FIXTURE_COLLATERAL_ITEMS = {
  tdx: "dcapqvl-uptodate-v4",
  snp: { item: "google-milan-v2", product: "Milan", chainFile: "ask_ark_milan.pem" },
} as const;

export function startFixtureCollateralServices(): Promise<SimulatedCollateralServices> {
  const { tdx, snp } = FIXTURE_COLLATERAL_ITEMS;
  return startSimulatedCollateralServices({
    routes: [
      pccsFromItem(join(SHARED_TDX_DIR, tdx)),
      kdsFromItem(join(SNP_EVIDENCE_DIR, snp.item), snp.product, snp.chainFile),
    ],
  });
}
