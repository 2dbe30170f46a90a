/**
 * Where OCSP responses come from: an offline directory of DER responses (any file name; indexed by the CertIDs they
 * answer for), or an OCSP responder URL (POST application/ocsp-request, https only, with a timeout). Sources are
 * untrusted: every response is verified by the caller. `get` resolves undefined when the source has no response for
 * the certificate and throws CollateralUnavailable when it cannot answer.
 */
import type { X509Certificate } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { EvidenceError } from "../../types.ts";
import {
  certIdOf,
  HASH_OID_OF,
  MAX_OCSP_RESPONSE_BYTES,
  parseOcspResponse,
  sameCertId,
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

interface IndexedResponse {
  certId: CertId;
  der: Uint8Array;
}

/** Response files in `dir` (not recursive); files that are not successful OCSP responses are skipped. */
export function directoryOcspSource(dir: string): OcspSource {
  let index: Promise<IndexedResponse[]> | undefined;
  async function load(): Promise<IndexedResponse[]> {
    let files: string[];
    try {
      files = (await readdir(dir)).sort();
    } catch (error) {
      throw unavailable(`OCSP directory ${dir} cannot be read: ${(error as Error).message}`, error);
    }
    const entries: IndexedResponse[] = [];
    for (const file of files) {
      const der = await readFile(join(dir, file)).catch(() => undefined);
      if (der === undefined || der.length > MAX_OCSP_RESPONSE_BYTES) continue;
      try {
        for (const single of parseOcspResponse(der).responses) entries.push({ certId: single.certId, der });
      } catch {
        // Not an OCSP response (a README, a PEM, a failed answer): it answers for nothing.
      }
    }
    return entries;
  }
  return {
    name: `directory ${dir}`,
    async get(query) {
      index ??= load();
      const entries = await index;
      const found = entries.find((e) =>
        sameCertId(e.certId, certIdOf(query.certificate, query.issuer, e.certId.hash)),
      );
      return found?.der;
    },
  };
}

export interface OcspUrlOptions {
  /** https URL of the responder (the policy's `gpu.ocspUrl`). */
  url: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

/** An OCSP responder over HTTP POST (RFC 6960 appendix A.1). */
export function urlOcspSource(options: OcspUrlOptions): OcspSource {
  const url = new URL(options.url);
  if (url.protocol !== "https:") throw new Error(`OCSP responder URL ${options.url} is not https`);
  const doFetch = options.fetch ?? fetch;
  return {
    name: `responder ${url.host}`,
    async get(query) {
      let response: Response;
      try {
        response = await doFetch(url, {
          method: "POST",
          headers: { "content-type": "application/ocsp-request", accept: "application/ocsp-response" },
          body: Buffer.from(ocspRequest(query)),
          signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
        });
      } catch (error) {
        throw unavailable(`OCSP responder ${url.host}: ${(error as Error).message}`, error);
      }
      if (!response.ok) throw unavailable(`OCSP responder ${url.host} answered HTTP ${response.status}`);
      const body = new Uint8Array(await response.arrayBuffer());
      if (body.length > MAX_OCSP_RESPONSE_BYTES)
        throw unavailable(
          `OCSP responder ${url.host}: the response is larger than ${MAX_OCSP_RESPONSE_BYTES} bytes`,
        );
      return body;
    },
  };
}
