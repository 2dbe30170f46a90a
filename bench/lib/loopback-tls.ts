// A CA and a certificate for 127.0.0.1 valid for the next hour: the benchmarks' loopback TLS servers.
import { issueCertificate, type KeyPairPem } from "../../operator/src/webhook/certs/x509.ts";

export function loopbackCertificates(): { ca: KeyPairPem; server: KeyPairPem } {
  const now = Date.now();
  const validity = { notBefore: new Date(now - 60_000), notAfter: new Date(now + 3_600_000) };
  const ca = issueCertificate({ commonName: "bench-ca", ca: true, ...validity });
  const server = issueCertificate({
    commonName: "127.0.0.1",
    ca: false,
    sans: ["127.0.0.1"],
    issuer: ca,
    ...validity,
  });
  return { ca, server };
}
