/**
 * The simulated PKI of the simulated TEEs and GPUs (`trustgate guest --tee-provider simulated`, hack/sim-pki.ts):
 * an AMD ARK/ASK pair, a simulated Intel SGX root with its PCK Platform CA and TCB Signing certificate, and an
 * NVIDIA root/identity/provisioner-ICA chain. The CA keys stay in the directory (mode 0600); each simulated chip's
 * VCEK, each machine's PCK certificate and each GPU's device certificates are issued from them on demand.
 *
 *   <dir>/trust-roots.json        public roots only (see test-trust-roots.ts)
 *   <dir>/sim-pki.json            what this is, product line
 *   <dir>/amd/{ark,ask}.pem       <dir>/private/amd-ask.key.pem
 *   <dir>/amd/crl.der             the ARK's CRL of ASKs (KDS /vcek/v1/<product>/crl), revoking none
 *   <dir>/intel/{root,pck-platform-ca,tcb-signing}.pem   <dir>/private/intel-{pck-platform-ca,tcb-signing}.key.pem
 *   <dir>/intel/root-ca-crl.der   the root CA CRL (signed at creation; the root key is not kept)
 *   <dir>/nvidia/{root,identity,ica}.pem   <dir>/private/nvidia-ica.key.pem
 *   <dir>/nvidia/rim-{root,ca,signer}.pem  <dir>/private/nvidia-rim-signer.key.pem   (simulated RIM signing)
 *   <dir>/nvidia/ocsp-responder-<n>.pem    <dir>/private/nvidia-ocsp-responder-<n>.key.pem  (simulated OCSP)
 */
import { createPrivateKey, KeyObject, webcrypto, X509Certificate } from "node:crypto";
import { access, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { AMD_RSA_PSS, generateAmdCa, issueAmdCrl, type AmdCa } from "./amd-pki.ts";
import { generateIntelCa, intelIdentity, type IntelCa } from "./intel-pki.ts";
import {
  fakeCertificateFromPem,
  generateNvidiaCa,
  type FakeCertificate,
  type NvidiaCa,
} from "./nvidia-pki.ts";
import { issueOcspResponder } from "./nvidia-ocsp.ts";
import { generateRimCa, type RimCa } from "./nvidia-rim.ts";
import {
  parseTestTrustRoots,
  testTrustRootsFile,
  type TestTrustRoots,
  type TestTrustRootsFile,
} from "./test-trust-roots.ts";

export type SimulatedSnpProduct = "Milan" | "Genoa";

export interface SimPki {
  amd: AmdCa;
  /** The ARK's CRL of ASKs (DER); absent in a PKI directory written before KDS was simulated. */
  amdCrl?: Uint8Array;
  /** The simulated SGX PKI of the simulated TDX TEE; absent in a PKI directory written before TDX was simulated. */
  intel?: IntelCa;
  nvidia: NvidiaCa;
  /** Signs the simulated GPUs' RIMs; absent in a PKI directory written before RIMs were simulated. */
  nvidiaRim?: RimCa;
  /** Delegated OCSP responders of every simulated NVIDIA CA (device and RIM); absent in older directories. */
  nvidiaOcsp?: FakeCertificate[];
  /** The directory it was loaded from (loadSimPki): where pre-produced collateral is found. */
  dir?: string;
}

interface SimPkiManifest {
  kind: "TrustgateSimulatedPki";
  version: 1;
  testOnly: true;
  snpProduct: SimulatedSnpProduct;
  createdAt: string;
}

const FILES = {
  manifest: "sim-pki.json",
  trustRoots: "trust-roots.json",
  ark: "amd/ark.pem",
  ask: "amd/ask.pem",
  askKey: "private/amd-ask.key.pem",
  amdCrl: "amd/crl.der",
  intelRoot: "intel/root.pem",
  intelPckCa: "intel/pck-platform-ca.pem",
  intelTcbSigning: "intel/tcb-signing.pem",
  intelRootCaCrl: "intel/root-ca-crl.der",
  intelPckCaKey: "private/intel-pck-platform-ca.key.pem",
  intelTcbSigningKey: "private/intel-tcb-signing.key.pem",
  nvidiaRoot: "nvidia/root.pem",
  nvidiaIdentity: "nvidia/identity.pem",
  nvidiaIca: "nvidia/ica.pem",
  nvidiaIcaKey: "private/nvidia-ica.key.pem",
  rimRoot: "nvidia/rim-root.pem",
  rimCa: "nvidia/rim-ca.pem",
  rimSigner: "nvidia/rim-signer.pem",
  rimSignerKey: "private/nvidia-rim-signer.key.pem",
} as const;

export const TRUST_ROOTS_FILE = FILES.trustRoots;

const OCSP_RESPONDER = /^ocsp-responder-(\d+)\.pem$/;

export async function generateSimPki(options: { snpProduct?: SimulatedSnpProduct } = {}): Promise<SimPki> {
  const ocspResponders = (ca: FakeCertificate): FakeCertificate => issueOcspResponder(ca);
  const nvidia = generateNvidiaCa({ ocspResponders });
  const nvidiaRim = generateRimCa({ ocspResponders });
  const amd = await generateAmdCa({ product: options.snpProduct ?? "Genoa" });
  return {
    amd,
    amdCrl: await issueAmdCrl(amd),
    intel: generateIntelCa(),
    nvidia,
    nvidiaRim,
    nvidiaOcsp: [...(nvidia.ocspResponders ?? []), ...(nvidiaRim.ocspResponders ?? [])],
  };
}

function privateKeyPem(key: KeyObject): string {
  return key.export({ format: "pem", type: "pkcs8" }).toString();
}

/** The public roots of a simulated PKI as a test trust roots document (what --test-trust-roots reads). */
export function simPkiTrustRootsFile(pki: SimPki): TestTrustRootsFile {
  return testTrustRootsFile(
    [pki.amd.arkPem],
    [pki.nvidia.root.toString()],
    pki.nvidiaRim === undefined ? [] : [pki.nvidiaRim.root.toString()],
    pki.intel === undefined
      ? undefined
      : { roots: [pki.intel.root.toString()], tcbSigning: [pki.intel.tcbSigner.certificate.toString()] },
  );
}

/** The same roots parsed, as the controller holds them after --test-trust-roots. */
export function simPkiTrustRoots(pki: SimPki): TestTrustRoots {
  return parseTestTrustRoots(JSON.stringify(simPkiTrustRootsFile(pki)), "memory");
}

/** Writes the PKI into `dir` (created if missing); refuses a directory that already holds one. */
export async function writeSimPki(pki: SimPki, dir: string): Promise<void> {
  const existing = await readdir(dir).catch(() => [] as string[]);
  if (existing.includes(FILES.manifest) || existing.includes(FILES.trustRoots))
    throw new Error(`${dir} already holds a simulated PKI`);
  await mkdir(join(dir, "amd"), { recursive: true });
  await mkdir(join(dir, "nvidia"), { recursive: true });
  if (pki.intel !== undefined) await mkdir(join(dir, "intel"), { recursive: true });
  await mkdir(join(dir, "private"), { recursive: true, mode: 0o700 });
  const manifest: SimPkiManifest = {
    kind: "TrustgateSimulatedPki",
    version: 1,
    testOnly: true,
    snpProduct: pki.amd.product === "Milan" ? "Milan" : "Genoa",
    createdAt: new Date().toISOString(),
  };
  const publicFiles: [string, string | Uint8Array][] = [
    [FILES.ark, pki.amd.arkPem],
    [FILES.ask, pki.amd.intermediatePem],
    [FILES.nvidiaRoot, pki.nvidia.root.toString()],
    [FILES.nvidiaIdentity, pki.nvidia.identity.toString()],
    [FILES.nvidiaIca, pki.nvidia.ica.certificate.toString()],
    [FILES.manifest, `${JSON.stringify(manifest, null, 2)}\n`],
    [FILES.trustRoots, `${JSON.stringify(simPkiTrustRootsFile(pki), null, 2)}\n`],
  ];
  const privateFiles: [string, string][] = [
    [FILES.askKey, privateKeyPem(KeyObject.from(pki.amd.intermediateKey))],
    [FILES.nvidiaIcaKey, privateKeyPem(pki.nvidia.ica.keys.privateKey)],
  ];
  if (pki.amdCrl !== undefined) publicFiles.push([FILES.amdCrl, pki.amdCrl]);
  if (pki.intel !== undefined) {
    publicFiles.push(
      [FILES.intelRoot, pki.intel.root.toString()],
      [FILES.intelPckCa, pki.intel.pckCa.certificate.toString()],
      [FILES.intelTcbSigning, pki.intel.tcbSigner.certificate.toString()],
      [FILES.intelRootCaCrl, pki.intel.rootCaCrl],
    );
    privateFiles.push(
      [FILES.intelPckCaKey, privateKeyPem(pki.intel.pckCa.keys.privateKey)],
      [FILES.intelTcbSigningKey, privateKeyPem(pki.intel.tcbSigner.keys.privateKey)],
    );
  }
  if (pki.nvidiaRim !== undefined) {
    publicFiles.push(
      [FILES.rimRoot, pki.nvidiaRim.root.toString()],
      [FILES.rimCa, pki.nvidiaRim.ca.toString()],
      [FILES.rimSigner, pki.nvidiaRim.signer.certificate.toString()],
    );
    privateFiles.push([FILES.rimSignerKey, privateKeyPem(pki.nvidiaRim.signer.keys.privateKey)]);
  }
  (pki.nvidiaOcsp ?? []).forEach((responder, n) => {
    publicFiles.push([`nvidia/ocsp-responder-${n}.pem`, responder.certificate.toString()]);
    privateFiles.push([
      `private/nvidia-ocsp-responder-${n}.key.pem`,
      privateKeyPem(responder.keys.privateKey),
    ]);
  });
  for (const [file, text] of privateFiles)
    await writeFile(join(dir, file), text, { mode: 0o600, flag: "wx" });
  for (const [file, content] of publicFiles)
    await writeFile(join(dir, file), content, { mode: 0o644, flag: "wx" });
}

/** Generates a simulated PKI and writes it into `dir` (the library behind hack/sim-pki.ts). */
export async function createSimPki(
  dir: string,
  options: { snpProduct?: SimulatedSnpProduct } = {},
): Promise<SimPki> {
  const pki = await generateSimPki(options);
  await writeSimPki(pki, dir);
  return pki;
}

async function readText(dir: string, file: string): Promise<string> {
  try {
    return await readFile(join(dir, file), "utf8");
  } catch (error) {
    throw new Error(`simulated PKI ${dir}: cannot read ${file}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

async function readBinary(dir: string, file: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(join(dir, file)));
  } catch (error) {
    throw new Error(`simulated PKI ${dir}: cannot read ${file}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

const exists = (dir: string, file: string): Promise<boolean> =>
  access(join(dir, file)).then(
    () => true,
    () => false,
  );

/** The simulated Intel CAs of a PKI directory (none in directories written before TDX was simulated). */
async function loadIntelCa(dir: string): Promise<IntelCa | undefined> {
  if (!(await exists(dir, FILES.intelRoot))) return undefined;
  const identity = async (certificate: string, key: string) =>
    intelIdentity(
      new X509Certificate(await readText(dir, certificate)),
      createPrivateKey(await readText(dir, key)),
    );
  return {
    root: new X509Certificate(await readText(dir, FILES.intelRoot)),
    pckCa: await identity(FILES.intelPckCa, FILES.intelPckCaKey),
    tcbSigner: await identity(FILES.intelTcbSigning, FILES.intelTcbSigningKey),
    rootCaCrl: await readBinary(dir, FILES.intelRootCaCrl),
  };
}

/**
 * Where a simulated PKI directory keeps OCSP responses produced ahead of time (DER files), as NVIDIA's responder
 * serves pre-produced responses: the in-process responder answers from here first and signs only what is missing.
 */
export const PREPRODUCED_OCSP_DIR = "nvidia/ocsp-responses";

/** The simulated OCSP responders of a PKI directory (none in directories written before OCSP was simulated). */
export async function loadSimulatedOcspResponders(dir: string): Promise<FakeCertificate[]> {
  const files = await readdir(join(dir, "nvidia")).catch(() => [] as string[]);
  const numbers = files.flatMap((f) => {
    const n = OCSP_RESPONDER.exec(f)?.[1];
    return n === undefined ? [] : [Number(n)];
  });
  return Promise.all(
    numbers
      .sort((a, b) => a - b)
      .map(async (n) =>
        fakeCertificateFromPem(
          await readText(dir, `nvidia/ocsp-responder-${n}.pem`),
          await readText(dir, `private/nvidia-ocsp-responder-${n}.key.pem`),
        ),
      ),
  );
}

/** The PKI in `dir` when it holds one (its manifest), else undefined (e.g. a trust-roots.json alone). */
export async function loadSimPkiIfPresent(dir: string): Promise<SimPki | undefined> {
  return (await exists(dir, FILES.manifest)) ? loadSimPki(dir) : undefined;
}

/** Reads a PKI written by writeSimPki, with its CA keys. */
export async function loadSimPki(dir: string): Promise<SimPki> {
  const manifest = JSON.parse(await readText(dir, FILES.manifest)) as Partial<SimPkiManifest>;
  if (manifest.kind !== "TrustgateSimulatedPki" || manifest.version !== 1)
    throw new Error(`simulated PKI ${dir}: ${FILES.manifest} is not a version 1 simulated PKI manifest`);
  const product = manifest.snpProduct === "Milan" ? "Milan" : "Genoa";
  const askPem = await readText(dir, FILES.ask);
  const askKeyDer = createPrivateKey(await readText(dir, FILES.askKey)).export({
    format: "der",
    type: "pkcs8",
  });
  // Extractable: the simulated VCEKs' keys are derived from it (simulated-vcek.ts).
  const askKey = await webcrypto.subtle.importKey("pkcs8", askKeyDer, AMD_RSA_PSS, true, ["sign"]);
  const askCn = /(?:^|\n)CN=([^\n]*)/.exec(new X509Certificate(askPem).subject)?.[1] ?? `SEV-${product}`;
  const rimSignerPem = await readFile(join(dir, FILES.rimSigner), "utf8").catch(() => undefined);
  const nvidiaRim: RimCa | undefined =
    rimSignerPem === undefined
      ? undefined
      : {
          root: new X509Certificate(await readText(dir, FILES.rimRoot)),
          ca: new X509Certificate(await readText(dir, FILES.rimCa)),
          signer: fakeCertificateFromPem(rimSignerPem, await readText(dir, FILES.rimSignerKey)),
        };
  const nvidiaOcsp = await loadSimulatedOcspResponders(dir);
  const intel = await loadIntelCa(dir);
  const amdCrl = (await exists(dir, FILES.amdCrl)) ? await readBinary(dir, FILES.amdCrl) : undefined;
  return {
    dir,
    ...(intel === undefined ? {} : { intel }),
    ...(amdCrl === undefined ? {} : { amdCrl }),
    ...(nvidiaRim === undefined ? {} : { nvidiaRim }),
    ...(nvidiaOcsp.length === 0 ? {} : { nvidiaOcsp }),
    amd: {
      product,
      arkPem: await readText(dir, FILES.ark),
      intermediatePem: askPem,
      intermediateCn: askCn,
      intermediateKey: askKey,
    },
    nvidia: {
      root: new X509Certificate(await readText(dir, FILES.nvidiaRoot)),
      identity: new X509Certificate(await readText(dir, FILES.nvidiaIdentity)),
      ica: fakeCertificateFromPem(
        await readText(dir, FILES.nvidiaIca),
        await readText(dir, FILES.nvidiaIcaKey),
      ),
    },
  };
}
