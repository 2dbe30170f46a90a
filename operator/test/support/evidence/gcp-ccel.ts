/** The real GCP TDX CCEL (google-gcp-cos113-ccel, see its MANIFEST.md) and its quote's RTMRs, for event-log tests. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseTdxQuote } from "../../../src/attestation/tdx/quote.ts";
import { SHARED_TDX_DIR } from "../../fixtures/tdx/items.ts";

export const GCP_CCEL_DIR = join(SHARED_TDX_DIR, "google-gcp-cos113-ccel");

export function gcpCcel(): Uint8Array {
  return new Uint8Array(readFileSync(join(GCP_CCEL_DIR, "ccel_data.dat")));
}

export function gcpQuoteRtmrs(): Uint8Array[] {
  return [...parseTdxQuote(readFileSync(join(GCP_CCEL_DIR, "quote.dat"))).body.rtmrs];
}
