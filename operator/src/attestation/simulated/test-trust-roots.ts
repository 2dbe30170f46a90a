/**
 * `trust-roots.json` of a simulated PKI: only the public roots (AMD ARKs, NVIDIA roots, the simulated SGX root and
 * its TCB Signing certificate) that a verifier may be told
 * to trust in tests and demos, through an explicit flag (`--test-trust-roots`). Nothing here is ever trusted by
 * default, and a file that holds anything private is refused.
 */
import { X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { GpuTrustAnchors } from "../gpu/device-chain.ts";
import type { RimTrustAnchors } from "../gpu/rim/rim.ts";
import type { TrustAnchors } from "../snp/endorsement-chain.ts";

export const TEST_TRUST_ROOTS_KIND = "TrustgateTestTrustRoots";

/** The JSON document. */
export interface TestTrustRootsFile {
  kind: typeof TEST_TRUST_ROOTS_KIND;
  testOnly: true;
  description: string;
  snp: { arks: string[] };
  gpu: { roots: string[]; rimRoots?: string[] };
  /** Absent in files written before TDX was simulated. */
  tdx?: { roots: string[]; tcbSigning?: string[] };
}

/** Simulated SGX roots and the TCB Signing certificates each one issued (each a TDX verifier's anchors). */
export interface TestTdxRoots {
  roots: string[];
  /** Every one issued by one of `roots`. */
  tcbSigning: string[];
}

/** What createSnpVerifier({ anchors }) and createLocalGpuVerifier({ anchors }) take. */
export interface TestTrustRoots {
  snp: TrustAnchors;
  gpu: GpuTrustAnchors;
  /** Simulated CoRIM signing roots for createRimAppraiser({ anchors }). */
  gpuRim: RimTrustAnchors;
  /** Simulated SGX roots for the TDX verifier (none in older files). */
  tdx: TestTdxRoots;
  /** Where they were read from, for logs. */
  source: string;
}

export function testTrustRootsFile(
  arks: string[],
  gpuRoots: string[],
  rimRoots: string[] = [],
  tdx: TestTdxRoots = { roots: [], tcbSigning: [] },
): TestTrustRootsFile {
  return {
    kind: TEST_TRUST_ROOTS_KIND,
    testOnly: true,
    description:
      "Public roots of a simulated PKI (hack/sim-pki.ts). Evidence they anchor proves nothing; trust them only in tests and demos.",
    snp: { arks },
    gpu: { roots: gpuRoots, ...(rimRoots.length === 0 ? {} : { rimRoots }) },
    ...(tdx.roots.length === 0 ? {} : { tdx: { roots: tdx.roots, tcbSigning: tdx.tcbSigning } }),
  };
}

function certificates(value: unknown, where: string): { pem: string; cert: X509Certificate }[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((v): v is string => typeof v === "string"))
    throw new Error(`${where} must be a list of PEM certificates`);
  return value.map((pem, index) => {
    try {
      return { pem, cert: new X509Certificate(pem) };
    } catch (error) {
      throw new Error(`${where}[${index}] is not a PEM certificate`, { cause: error });
    }
  });
}

const subjectOf = (cert: X509Certificate): string => cert.subject.replace(/\n/g, ", ");

function pemList(value: unknown, where: string): string[] {
  return certificates(value, where).map(({ pem, cert }, index) => {
    if (!cert.ca || !cert.checkIssued(cert) || !cert.verify(cert.publicKey))
      throw new Error(`${where}[${index}] (${subjectOf(cert)}) is not a self-signed CA`);
    return pem;
  });
}

/** Certificates that must each be issued (and signed) by one of `roots`. */
function issuedByOneOf(value: unknown, roots: readonly string[], where: string): string[] {
  const issuers = roots.map((pem) => new X509Certificate(pem));
  return certificates(value, where).map(({ pem, cert }, index) => {
    if (!issuers.some((root) => cert.checkIssued(root) && cert.verify(root.publicKey)))
      throw new Error(`${where}[${index}] (${subjectOf(cert)}) is not issued by one of the listed roots`);
    return pem;
  });
}

/** Parses and checks a trust-roots.json document. */
export function parseTestTrustRoots(text: string, source: string): TestTrustRoots {
  if (text.includes("PRIVATE KEY"))
    throw new Error(`${source} holds a private key; a trust-roots file must hold public roots only`);
  let document: Partial<Record<keyof TestTrustRootsFile, unknown>>;
  try {
    document = JSON.parse(text) as typeof document;
  } catch (error) {
    throw new Error(`${source} is not JSON`, { cause: error });
  }
  if (document.kind !== TEST_TRUST_ROOTS_KIND || document.testOnly !== true)
    throw new Error(`${source} is not a trust-roots file (kind ${TEST_TRUST_ROOTS_KIND}, testOnly true)`);
  const snp = (document.snp ?? {}) as { arks?: unknown };
  const gpu = (document.gpu ?? {}) as { roots?: unknown; rimRoots?: unknown };
  const tdx = (document.tdx ?? {}) as { roots?: unknown; tcbSigning?: unknown };
  const arks = pemList(snp.arks, `${source}: snp.arks`);
  const roots = pemList(gpu.roots, `${source}: gpu.roots`);
  const rimRoots = pemList(gpu.rimRoots, `${source}: gpu.rimRoots`);
  const sgxRoots = pemList(tdx.roots, `${source}: tdx.roots`);
  const tcbSigning = issuedByOneOf(tdx.tcbSigning, sgxRoots, `${source}: tdx.tcbSigning`);
  if (arks.length + roots.length + sgxRoots.length === 0) throw new Error(`${source} holds no roots`);
  return {
    snp: { arks, intermediates: [] },
    gpu: { roots },
    gpuRim: { roots: rimRoots },
    tdx: { roots: sgxRoots, tcbSigning },
    source,
  };
}

/**
 * Reads the test trust roots the controller and `trustgate verify` load through `--test-trust-roots <file>`:
 * `snp` for createSnpVerifier({ anchors }), `gpu` for createLocalGpuVerifier({ anchors }), `tdx` for
 * createTdxVerifier({ anchors }) (one verifier per root).
 */
export async function loadTestTrustRoots(path: string): Promise<TestTrustRoots> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new Error(`cannot read test trust roots ${path}: ${(error as Error).message}`, { cause: error });
  }
  return parseTestTrustRoots(text, path);
}
