// Generates the simulated PKI of `trustgate guest --tee-provider simulated --gpu-provider simulated`:
//   node hack/sim-pki.ts <dir> [--snp-product Genoa|Milan]
// <dir>/private/ holds the simulated CA keys (mode 0600); <dir>/trust-roots.json only the public roots, which the
// controller trusts when started with --test-trust-roots <dir>/trust-roots.json. FOR TESTS AND DEMOS ONLY.
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { createSimPki, TRUST_ROOTS_FILE } from "../operator/src/attestation/simulated/sim-pki.ts";

const USAGE = "usage: node hack/sim-pki.ts <dir> [--snp-product Genoa|Milan]";

async function main(argv: string[]): Promise<number> {
  let dir: string | undefined;
  let extra: string[];
  let product: string;
  try {
    const parsed = parseArgs({
      args: argv,
      options: { "snp-product": { type: "string" } },
      allowPositionals: true,
    });
    [dir, ...extra] = parsed.positionals;
    product = parsed.values["snp-product"] ?? "Genoa";
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (dir === undefined || extra.length > 0 || (product !== "Genoa" && product !== "Milan")) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  try {
    await createSimPki(dir, { snpProduct: product });
  } catch (error) {
    process.stderr.write(`sim-pki: ${(error as Error).message}\n`);
    return 1;
  }
  process.stdout.write(`${resolve(dir, TRUST_ROOTS_FILE)}\n`);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
