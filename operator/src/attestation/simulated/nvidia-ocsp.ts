/**
 * A simulated NVIDIA OCSP service: delegated responder certificates (id-kp-OCSPSigning) issued by the simulated CAs,
 * and OCSPResponses in the real DER layout (RFC 6960 BasicOCSPResponse, ECDSA P-384/SHA-384, CertID with SHA-384),
 * built with pkijs. Tests also use `ocspResponse` to make bad responses (wrong signer, expired, revoked, ...).
 */
import type { X509Certificate } from "node:crypto";
import { createHash, sign } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { certIdOf, CRL_REASONS, HASH_OID_OF, ID_PKIX_OCSP_BASIC } from "../gpu/ocsp/ocsp-response.ts";
import type { OcspSource } from "../gpu/ocsp/ocsp-source.ts";
import { issueCertificate, type FakeCertificate, type Validity } from "./nvidia-pki.ts";

const ECDSA_SHA384 = "1.2.840.10045.4.3.3";
const ID_KP_OCSP_SIGNING = "1.3.6.1.5.5.7.3.9";

/** A delegated OCSP responder of `ca`: a leaf with extendedKeyUsage id-kp-OCSPSigning (or none, to test that). */
export function issueOcspResponder(
  ca: FakeCertificate,
  options: { validity?: Validity; ocspSigning?: boolean } = {},
): FakeCertificate {
  return issueCertificate(`${ca.name} OCSP Responder`, ca, {
    ca: false,
    ...(options.validity === undefined ? {} : { validity: options.validity }),
    extensions: () =>
      options.ocspSigning === false
        ? []
        : [
            new pkijs.Extension({
              extnID: "2.5.29.37",
              critical: false,
              extnValue: new asn1js.Sequence({
                value: [new asn1js.ObjectIdentifier({ value: ID_KP_OCSP_SIGNING })],
              }).toBER(),
            }),
          ],
  });
}

export type SimulatedCertStatus =
  | { status: "good" }
  | { status: "unknown" }
  | { status: "revoked"; revokedAt: Date; reason?: (typeof CRL_REASONS)[number] };

export interface OcspResponseSpec {
  certificate: X509Certificate;
  issuer: X509Certificate;
  /** Signs the response: the issuing CA itself or a delegated responder. */
  signer: FakeCertificate;
  status: SimulatedCertStatus;
  thisUpdate: Date;
  nextUpdate?: Date;
  /** CertID hash (default sha384). */
  hash?: string;
  /** ResponderID byKey instead of byName. */
  byKey?: boolean;
  /** Include the signer's certificate (default: when it is not the issuer). */
  includeSigner?: boolean;
  /** A non-successful responseStatus (1 malformedRequest, 3 tryLater, 6 unauthorized): no responseBytes. */
  responseStatus?: number;
}

const buffer = (bytes: Uint8Array): ArrayBuffer => Uint8Array.from(bytes).buffer;
const octets = (hex: string): asn1js.OctetString =>
  new asn1js.OctetString({ valueHex: buffer(Buffer.from(hex, "hex")) });

function certStatus(status: SimulatedCertStatus): asn1js.BaseBlock {
  if (status.status === "good") return new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber: 0 } });
  if (status.status === "unknown") return new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber: 2 } });
  const reason = status.reason === undefined ? -1 : CRL_REASONS.indexOf(status.reason);
  return new asn1js.Constructed({
    idBlock: { tagClass: 3, tagNumber: 1 },
    value: [
      new asn1js.GeneralizedTime({ valueDate: status.revokedAt }),
      ...(reason < 0
        ? []
        : [
            new asn1js.Constructed({
              idBlock: { tagClass: 3, tagNumber: 0 },
              value: [new asn1js.Enumerated({ value: reason })],
            }),
          ]),
    ],
  });
}

/** DER of an OCSPResponse as `spec` says. */
export function ocspResponse(spec: OcspResponseSpec): Uint8Array {
  if (spec.responseStatus !== undefined && spec.responseStatus !== 0) {
    return new Uint8Array(
      new pkijs.OCSPResponse({
        responseStatus: new asn1js.Enumerated({ value: spec.responseStatus }),
      })
        .toSchema()
        .toBER(),
    );
  }
  const id = certIdOf(spec.certificate, spec.issuer, spec.hash ?? "sha384");
  const serial = Buffer.from(id.serial, "hex");
  const single = new pkijs.SingleResponse({
    certID: new pkijs.CertID({
      hashAlgorithm: new pkijs.AlgorithmIdentifier({
        algorithmId: HASH_OID_OF[id.hash] ?? "",
        algorithmParams: new asn1js.Null(),
      }),
      issuerNameHash: octets(id.issuerNameHash),
      issuerKeyHash: octets(id.issuerKeyHash),
      serialNumber: new asn1js.Integer({
        valueHex: buffer((serial[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.of(0), serial]) : serial),
      }),
    }),
    certStatus: certStatus(spec.status),
    thisUpdate: spec.thisUpdate,
    ...(spec.nextUpdate === undefined ? {} : { nextUpdate: spec.nextUpdate }),
  });
  const signerCert = pkijs.Certificate.fromBER(spec.signer.certificate.raw);
  const keyHash = createHash("sha1")
    .update(signerCert.subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView)
    .digest();
  const data = new pkijs.ResponseData({
    responderID:
      spec.byKey === true ? new asn1js.OctetString({ valueHex: buffer(keyHash) }) : signerCert.subject,
    producedAt: spec.thisUpdate,
    responses: [single],
  });
  data.tbsView = new Uint8Array((data.toSchema(true) as asn1js.Sequence).toBER());
  const delegated = spec.signer.certificate.fingerprint256 !== spec.issuer.fingerprint256;
  const basic = new pkijs.BasicOCSPResponse({
    tbsResponseData: data,
    signatureAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: ECDSA_SHA384 }),
    signature: new asn1js.BitString({
      valueHex: buffer(sign("sha384", data.tbsView, spec.signer.keys.privateKey)),
    }),
    ...((spec.includeSigner ?? delegated) ? { certs: [signerCert] } : {}),
  });
  return new Uint8Array(
    new pkijs.OCSPResponse({
      responseStatus: new asn1js.Enumerated({ value: 0 }),
      responseBytes: new pkijs.ResponseBytes({
        responseType: ID_PKIX_OCSP_BASIC,
        response: new asn1js.OctetString({ valueHex: basic.toSchema().toBER() }),
      }),
    })
      .toSchema()
      .toBER(),
  );
}

export interface SimulatedOcspOptions {
  now?: () => Date;
  /** The status to report for a certificate; default good. */
  statusOf?: (certificate: X509Certificate) => SimulatedCertStatus;
}

/**
 * An in-process OCSP responder for the simulated PKI: each responder answers for the certificates its CA issued,
 * valid from an hour ago for a day.
 */
export function simulatedOcspSource(
  responders: readonly FakeCertificate[],
  options: SimulatedOcspOptions = {},
): OcspSource {
  // By the issuer's SHA-256: which responder a CA delegated to is found once, not with a signature check per query.
  const responderOf = new Map<string, FakeCertificate | undefined>();
  return {
    name: "simulated NVIDIA OCSP responder",
    get({ certificate, issuer }) {
      const fingerprint = issuer.fingerprint256;
      if (!responderOf.has(fingerprint)) {
        const found = responders.find(
          (r) => r.certificate.checkIssued(issuer) && r.certificate.verify(issuer.publicKey),
        );
        responderOf.set(fingerprint, found);
      }
      const responder = responderOf.get(fingerprint);
      if (responder === undefined) return Promise.resolve(undefined);
      const now = options.now?.() ?? new Date();
      return Promise.resolve(
        ocspResponse({
          certificate,
          issuer,
          signer: responder,
          status: options.statusOf?.(certificate) ?? { status: "good" },
          thisUpdate: new Date(now.getTime() - 3600_000),
          nextUpdate: new Date(now.getTime() + 24 * 3600_000),
        }),
      );
    },
  };
}
