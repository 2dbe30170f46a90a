// Serves the simulated Intel PCS/PCCS (v4) and AMD KDS (v1) of a simulated PKI (hack/sim-pki.ts) over HTTPS, for the
// controller to fetch TDX collateral and SNP VCEKs from. FOR TESTS AND DEMOS ONLY.
//   node hack/sim-collateral-services.ts --pki <dir> --url-file <file> --ca-file <file>
//        [--host 127.0.0.1] [--port 0] [--server-name <name or IP>]... [--revoke-machine <machine>]...
// Writes the CA of the server's certificate (PEM) to --ca-file, then the base URL to --url-file (last, so that once
// it exists both are ready). The PCS base URL and the KDS base URL are both that URL; a PCCS-style root CA CRL is at
// <url>/sgx/certification/v4/rootcacrl. --server-name adds names the certificate covers (the first names the URL),
// for clients that reach the host by another name. Runs until SIGTERM or SIGINT.
import { rename, writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { startSimulatedCollateralServices } from "../operator/src/attestation/simulated/collateral-services.ts";
import { loadSimPki } from "../operator/src/attestation/simulated/sim-pki.ts";

const USAGE =
  "usage: node hack/sim-collateral-services.ts --pki <dir> --url-file <file> --ca-file <file> [--host <address>] [--port <n>] [--server-name <name>]... [--revoke-machine <machine>]...";

interface Options {
  pki: string;
  urlFile: string;
  caFile: string;
  host: string;
  port: number;
  serverNames: string[];
  revokedMachines: string[];
}

function options(argv: string[]): Options | string {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        pki: { type: "string" },
        "url-file": { type: "string" },
        "ca-file": { type: "string" },
        host: { type: "string" },
        port: { type: "string" },
        "server-name": { type: "string", multiple: true },
        "revoke-machine": { type: "string", multiple: true },
      },
    }).values;
  } catch (error) {
    return (error as Error).message;
  }
  const { pki, "url-file": urlFile, "ca-file": caFile } = values;
  if (pki === undefined || urlFile === undefined || caFile === undefined)
    return "--pki, --url-file and --ca-file are required";
  const port = Number(values.port ?? "0");
  if (!Number.isInteger(port) || port < 0 || port > 65535) return `--port ${values.port ?? ""} is not a port`;
  return {
    pki,
    urlFile,
    caFile,
    host: values.host ?? "127.0.0.1",
    port,
    serverNames: values["server-name"] ?? [],
    revokedMachines: values["revoke-machine"] ?? [],
  };
}

async function main(argv: string[]): Promise<number> {
  const parsed = options(argv);
  if (typeof parsed === "string") {
    process.stderr.write(`${parsed}\n${USAGE}\n`);
    return 2;
  }
  let services;
  try {
    services = await startSimulatedCollateralServices({
      pki: await loadSimPki(parsed.pki),
      intel: { revokedMachines: parsed.revokedMachines },
      host: parsed.host,
      port: parsed.port,
      serverNames: parsed.serverNames,
    });
    await writeFile(parsed.caFile, services.caPem, { mode: 0o644 });
    await writeFile(`${parsed.urlFile}.tmp`, `${services.url}\n`, { mode: 0o644 });
    await rename(`${parsed.urlFile}.tmp`, parsed.urlFile);
  } catch (error) {
    await services?.close();
    process.stderr.write(`sim-collateral-services: ${(error as Error).message}\n`);
    return 1;
  }
  process.stdout.write(
    `Serving the simulated Intel PCS and AMD KDS at ${services.url} (TESTS AND DEMOS ONLY)\n`,
  );
  await new Promise<void>((resolve) => {
    process.once("SIGTERM", resolve);
    process.once("SIGINT", resolve);
  });
  await services.close();
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
