/**
 * Where OCSP responses come from: an offline directory of DER responses (any file name; indexed by the CertIDs they
 * answer for), or an OCSP responder URL (POST application/ocsp-request, https only, through the attestation service
 * client: size cap, timeout, retries). Sources are
 * untrusted: every response is verified by the caller. `get` resolves undefined when the source has no response for
 * the certificate and throws CollateralUnavailable when it cannot answer.
 */
import type { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { EvidenceError } from "../../types.ts";
import {
  createAttestationServiceClient,
  type AttestationServiceClient,
  type RequestObserver,
} from "../../collateral/attestation-service-client.ts";
import {
  certIdOf,
  HASH_OID_OF,
  MAX_OCSP_RESPONSE_BYTES,
  parseOcspResponse,
  type CertId,
} from "./ocsp-response.ts";

export interface OcspQuery {
  certificate: X509Certificate;
  issuer: X509Certificate;
}

export interface OcspSource {
  /** A short description for messages (the directory or the responder's host). */
  readonly name: string;
  get(query: OcspQuery): Promise<Uint8Array | undefined>;
}

function unavailable(message: string, cause?: unknown): EvidenceError {
  return new EvidenceError("CollateralUnavailable", message, cause === undefined ? {} : { cause });
}

/** DER of an OCSPRequest for one certificate (CertID with SHA-384, as NVIDIA's verifiers send; no nonce). */
export function ocspRequest(query: OcspQuery, hash = "sha384"): Uint8Array {
  const id = certIdOf(query.certificate, query.issuer, hash);
  const octets = (value: string): asn1js.OctetString =>
    new asn1js.OctetString({ valueHex: Uint8Array.from(Buffer.from(value, "hex")).buffer });
  const serial = Buffer.from(id.serial, "hex");
  const serialBytes = (serial[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.of(0), serial]) : serial;
  const certId = new pkijs.CertID({
    hashAlgorithm: new pkijs.AlgorithmIdentifier({
      algorithmId: HASH_OID_OF[hash] ?? "",
      algorithmParams: new asn1js.Null(),
    }),
    issuerNameHash: octets(id.issuerNameHash),
    issuerKeyHash: octets(id.issuerKeyHash),
    serialNumber: new asn1js.Integer({ valueHex: Uint8Array.from(serialBytes).buffer }),
  });
  const request = new pkijs.OCSPRequest({
    tbsRequest: new pkijs.TBSRequest({ requestList: [new pkijs.Request({ reqCert: certId })] }),
  });
  return new Uint8Array(request.toSchema(true).toBER());
}

function readSmallFile(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
}

function certIdKey(id: CertId): string {
  return `${id.hash}/${id.issuerNameHash}/${id.issuerKeyHash}/${id.serial}`;
}

/**
 * Pre-produced responses in a directory (DER OCSPResponse files, any names), indexed by the CertIDs they answer for
 * when first asked: a lookup hashes the query once per CertID hash algorithm present, not once per file, and reads
 * the one file that answers (a directory of thousands is not held in memory).
 */
export function directoryOcspSource(dir: string): OcspSource {
  let index: Promise<{ byCertId: Map<string, string>; hashes: Set<string> }> | undefined;
  async function load() {
    let files: string[];
    try {
      files = (await readdir(dir)).sort();
    } catch (error) {
      throw unavailable(`OCSP directory ${dir} cannot be read: ${(error as Error).message}`, error);
    }
    const byCertId = new Map<string, string>();
    const hashes = new Set<string>();
    for (const file of files) {
      const der = await readFile(join(dir, file)).catch(() => undefined);
      if (der === undefined || der.length > MAX_OCSP_RESPONSE_BYTES) continue;
      try {
        for (const single of parseOcspResponse(der).responses) {
          const key = certIdKey(single.certId);
          // The first file (in name order) answering for a certificate wins, as before.
          if (!byCertId.has(key)) byCertId.set(key, file);
          hashes.add(single.certId.hash);
        }
      } catch {
        // Not an OCSP response (a README, a PEM, a failed answer): it answers for nothing.
      }
    }
    return { byCertId, hashes };
  }
  return {
    name: `directory ${dir}`,
    async get(query) {
      index ??= load();
      const { byCertId, hashes } = await index;
      for (const hash of hashes) {
        const file = byCertId.get(certIdKey(certIdOf(query.certificate, query.issuer, hash)));
        if (file === undefined) continue;
        // One small file the index named, read synchronously: the promise API's open/stat/read/close showed as
        // about 1 ms of this thread per file in a profile of the loaded controller (attest-scale).
        const der = readSmallFile(join(dir, file));
        if (der !== undefined && der.length <= MAX_OCSP_RESPONSE_BYTES) return der;
      }
      return undefined;
    },
  };
}

export interface OcspUrlOptions {
  /** https URL of the responder (the policy's `gpu.ocspUrl`). */
  url: string;
  /** Default: a client of its own over the global fetch. */
  client?: AttestationServiceClient;
  onRequest?: RequestObserver;
  /** Per attempt (default the client's, 10 s). */
  timeoutMs?: number;
}

/** An OCSP responder over HTTP POST (RFC 6960 appendix A.1). */
export function urlOcspSource(options: OcspUrlOptions): OcspSource {
  const url = new URL(options.url);
  if (url.protocol !== "https:") throw new Error(`OCSP responder URL ${options.url} is not https`);
  const client = options.client ?? createAttestationServiceClient();
  return {
    name: `responder ${url.host}`,
    async get(query) {
      const response = await client.post(url, ocspRequest(query), {
        service: "nvidia-ocsp",
        contentType: "application/ocsp-request",
        headers: { accept: "application/ocsp-response" },
        maxBytes: MAX_OCSP_RESPONSE_BYTES,
        timeoutMs: options.timeoutMs,
        onRequest: options.onRequest,
      });
      return response.body;
    },
  };
}
