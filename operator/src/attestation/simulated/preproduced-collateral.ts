/**
 * Collateral of a simulated PKI made ahead of time, where the in-process services read it first: OCSP responses for
 * device certificates (PREPRODUCED_OCSP_DIR, read by `simulatedBackends`) and chips' VCEKs (PREISSUED_VCEK_DIR, read
 * by the simulated KDS). Benchmarks make them before their clock starts, as NVIDIA's responder serves pre-produced
 * responses and AMD's KDS certificates AMD issued: neither signs on this machine's cores.
 */
import { X509Certificate } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parsePemCertificates } from "../../crypto/pem.ts";
import { simulatedOcspSource } from "./nvidia-ocsp.ts";
import { simulatedChipId } from "./device-identity.ts";
import { loadSimPki, loadSimulatedOcspResponders, PREPRODUCED_OCSP_DIR } from "./sim-pki.ts";
import type { TcbSpec } from "./snp-report.ts";
import { PREISSUED_VCEK_DIR, preissuedVcekFile, simulatedVcek } from "./simulated-vcek.ts";

/**
 * Responses for every NVIDIA-issued certificate of the given device chains (PEM, leaf first: each certificate but
 * the leaf and the root, as the revocation checker asks). Returns how many files were written.
 */
export async function preproduceOcspResponses(
  simPkiDir: string,
  chainsPem: Iterable<string>,
): Promise<number> {
  const responders = await loadSimulatedOcspResponders(simPkiDir);
  if (responders.length === 0) throw new Error(`${simPkiDir} has no simulated OCSP responders`);
  const source = simulatedOcspSource(responders);
  const dir = join(simPkiDir, PREPRODUCED_OCSP_DIR);
  await mkdir(dir, { recursive: true });
  const done = new Set<string>();
  for (const pem of chainsPem) {
    const chain = parsePemCertificates(pem, "device chain").map((der) => new X509Certificate(der));
    for (let i = 1; i < chain.length - 1; i++) {
      const certificate = chain[i];
      const issuer = chain[i + 1];
      if (certificate === undefined || issuer === undefined) continue;
      const name = `${certificate.fingerprint256.replaceAll(":", "")}.der`;
      if (done.has(name)) continue;
      const der = await source.get({ certificate, issuer });
      if (der === undefined) continue;
      await writeFile(join(dir, name), der);
      done.add(name);
    }
  }
  return done.size;
}

/**
 * The VCEKs of simulated chips (by machine name, as the simulated SNP TEE names its chip) at `tcb`, issued now into
 * PREISSUED_VCEK_DIR. Returns how many were written.
 */
export async function preissueVceks(
  simPkiDir: string,
  machines: Iterable<string>,
  tcb: TcbSpec,
): Promise<number> {
  const pki = await loadSimPki(simPkiDir);
  const dir = join(simPkiDir, PREISSUED_VCEK_DIR);
  await mkdir(dir, { recursive: true });
  let written = 0;
  for (const machine of machines) {
    const chipId = simulatedChipId(machine);
    const vcek = await simulatedVcek(pki.amd, chipId, tcb);
    await writeFile(join(dir, preissuedVcekFile(chipId, tcb)), vcek.leafDer);
    written++;
  }
  return written;
}
