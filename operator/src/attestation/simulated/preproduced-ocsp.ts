/**
 * OCSP responses produced ahead of time for a simulated PKI's device certificates, written where
 * `simulatedBackends` reads them (PREPRODUCED_OCSP_DIR): benchmarks produce them before their clock starts, as
 * NVIDIA's responder serves pre-produced responses and does not sign on this machine's cores.
 */
import { X509Certificate } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parsePemCertificates } from "../../crypto/pem.ts";
import { simulatedOcspSource } from "./nvidia-ocsp.ts";
import { loadSimulatedOcspResponders, PREPRODUCED_OCSP_DIR } from "./sim-pki.ts";

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
