import { expect } from "chai";
import { X509Certificate } from "node:crypto";
import { generateNvidiaHierarchy, issueNvidiaDevice } from "../../simulated/nvidia-pki.ts";
import { issueOcspResponder, ocspResponse, type OcspResponseSpec } from "../../simulated/nvidia-ocsp.ts";
import { EvidenceError } from "../../types.ts";
import { parsePemCertificates } from "../../../crypto/pem.ts";
import { checkOcspWindow, parseOcspResponse, verifyOcspResponse, type OcspAnswer } from "./ocsp-response.ts";
import { ocspRequest } from "./ocsp-source.ts";
import * as pkijs from "pkijs";

const NOW = new Date("2025-06-01T12:00:00Z");
const HOUR = 3600_000;
const ca = generateNvidiaHierarchy();
const other = generateNvidiaHierarchy();
const device = issueNvidiaDevice({
  root: ca.root.certificate,
  identity: ca.identity.certificate,
  ica: ca.ica,
});
const [, brom, ica] = parsePemCertificates(device.chainPem, "chain").map((der) => new X509Certificate(der));
if (brom === undefined || ica === undefined) throw new Error("fake chain too short");
const responder = issueOcspResponder(ca.ica);

/** The BROM certificate (issued by the ICA) answered by the ICA's delegated responder, valid around NOW. */
function response(overrides: Partial<OcspResponseSpec> = {}): Uint8Array {
  return ocspResponse({
    certificate: brom as X509Certificate,
    issuer: ca.ica.certificate,
    signer: responder,
    status: { status: "good" },
    thisUpdate: new Date(NOW.getTime() - HOUR),
    nextUpdate: new Date(NOW.getTime() + 24 * HOUR),
    ...overrides,
  });
}

function answer(der: Uint8Array, certificate = brom as X509Certificate, at = NOW): OcspAnswer {
  const result = verifyOcspResponse(parseOcspResponse(der), certificate, ca.ica.certificate);
  checkOcspWindow(result, at);
  return result;
}

function codeOf(run: () => unknown): string {
  try {
    run();
    return "none";
  } catch (error) {
    return error instanceof EvidenceError ? error.code : `escaped: ${String(error)}`;
  }
}

describe("OCSP responses (RFC 6960, pkijs-built DER)", () => {
  const accepted: [string, () => Uint8Array, Partial<OcspAnswer>][] = [
    [
      "good, from a delegated responder named by name",
      () => response(),
      { status: "good", responder: "NVIDIA GH100 Provisioner ICA 1 OCSP Responder" },
    ],
    [
      "good, signed by the issuing CA itself, responder by key hash",
      () => response({ signer: ca.ica, byKey: true }),
      { status: "good", responder: "NVIDIA GH100 Provisioner ICA 1" },
    ],
    ["good, CertID with SHA-1", () => response({ hash: "sha1" }), { status: "good" }],
    [
      "revoked for keyCompromise",
      () =>
        response({
          status: { status: "revoked", revokedAt: new Date("2025-05-01T00:00:00Z"), reason: "keyCompromise" },
        }),
      { status: "revoked", reason: "keyCompromise" },
    ],
    [
      "revoked on certificateHold (the policy decides)",
      () =>
        response({
          status: {
            status: "revoked",
            revokedAt: new Date("2025-05-01T00:00:00Z"),
            reason: "certificateHold",
          },
        }),
      { status: "revoked", reason: "certificateHold" },
    ],
    [
      "revoked without a reason",
      () => response({ status: { status: "revoked", revokedAt: new Date("2025-05-01T00:00:00Z") } }),
      { status: "revoked" },
    ],
    ["unknown", () => response({ status: { status: "unknown" } }), { status: "unknown" }],
  ];
  for (const [name, make, expected] of accepted) {
    it(`reads ${name}`, () => {
      expect(answer(make())).to.include(expected);
    });
  }

  const rejected: [string, () => unknown, string][] = [
    [
      "a responder issued by another CA (wrong signer)",
      () => answer(response({ signer: issueOcspResponder(other.ica) })),
      "SignatureInvalid",
    ],
    [
      "another CA signing in the issuer's name",
      () =>
        answer(response({ signer: { ...other.ica, certificate: ca.ica.certificate }, includeSigner: false })),
      "SignatureInvalid",
    ],
    [
      "a responder without id-kp-OCSPSigning",
      () => answer(response({ signer: issueOcspResponder(ca.ica, { ocspSigning: false }) })),
      "SignatureInvalid",
    ],
    [
      "a delegated responder whose certificate is left out",
      () => answer(response({ includeSigner: false })),
      "SignatureInvalid",
    ],
    ["a response for another certificate", () => answer(response(), ica), "CollateralMissing"],
    [
      "a response after its nextUpdate (expired)",
      () => answer(response(), brom, new Date(NOW.getTime() + 25 * HOUR)),
      "CollateralExpired",
    ],
    [
      "a response before its thisUpdate",
      () => answer(response(), brom, new Date(NOW.getTime() - 2 * HOUR)),
      "CollateralExpired",
    ],
    [
      "a response without nextUpdate older than 7 days",
      () => answer(response({ nextUpdate: undefined }), brom, new Date(NOW.getTime() + 8 * 24 * HOUR)),
      "CollateralExpired",
    ],
    [
      "a delegated responder that expired before the response does",
      () =>
        answer(
          response({
            signer: issueOcspResponder(ca.ica, {
              validity: [new Date("2025-01-01T00:00:00Z"), new Date(NOW.getTime() + HOUR)],
            }),
          }),
          brom,
          new Date(NOW.getTime() + 2 * HOUR),
        ),
      "CollateralExpired",
    ],
    ["responseStatus tryLater", () => answer(response({ responseStatus: 3 })), "CollateralUnavailable"],
    ["responseStatus unauthorized", () => answer(response({ responseStatus: 6 })), "CollateralUnavailable"],
    [
      "an OCSP request instead of a response",
      () => answer(ocspRequest({ certificate: brom, issuer: ca.ica.certificate })),
      "EvidenceMalformed",
    ],
    ["empty bytes", () => answer(new Uint8Array()), "EvidenceMalformed"],
  ];
  for (const [name, run, code] of rejected) {
    it(`rejects ${name} (${code})`, () => {
      expect(codeOf(run)).to.equal(code);
    });
  }

  it("still checks every response's own signature and responder once a responder was found authorised", () => {
    expect(answer(response()).status, "the genuine responder, now remembered").to.equal("good");
    expect(answer(response()).status, "and again, from memory").to.equal("good");
    const forged = Buffer.from(response());
    const at = forged.indexOf(Buffer.from("2025"));
    forged[at + 3] = "3".charCodeAt(0);
    expect(
      codeOf(() => answer(forged)),
      "altered under the remembered responder",
    ).to.equal("SignatureInvalid");
    // Another CA's responder under the same name: the remembered delegation is of the genuine certificate's bytes.
    const impostor = issueOcspResponder(other.ica);
    expect(codeOf(() => answer(response({ signer: impostor })))).to.equal("SignatureInvalid");
    expect(
      codeOf(() => answer(response({ signer: issueOcspResponder(ca.ica, { ocspSigning: false }) }))),
      "a new certificate of the same CA without id-kp-OCSPSigning",
    ).to.equal("SignatureInvalid");
  });

  it("rejects a response whose tbsResponseData was altered after signing (SignatureInvalid)", () => {
    const der = Buffer.from(response());
    // The first GeneralizedTime (producedAt) starts with the year: 2025 becomes 2023.
    const at = der.indexOf(Buffer.from("2025"));
    expect(at).to.be.greaterThan(0);
    der[at + 3] = "3".charCodeAt(0);
    expect(codeOf(() => verifyOcspResponse(parseOcspResponse(der), brom, ca.ica.certificate))).to.equal(
      "SignatureInvalid",
    );
  });

  it("builds requests with a SHA-384 CertID for the certificate (what is POSTed to a responder)", () => {
    const request = pkijs.OCSPRequest.fromBER(ocspRequest({ certificate: brom, issuer: ca.ica.certificate }));
    const [one] = request.tbsRequest.requestList;
    expect(one?.reqCert.hashAlgorithm.algorithmId).to.equal("2.16.840.1.101.3.4.2.2");
    expect(
      Buffer.from(one?.reqCert.serialNumber.valueBlock.valueHexView ?? [])
        .toString("hex")
        .replace(/^00/, ""),
    ).to.equal(brom.serialNumber.toLowerCase().replace(/^00/, ""));
  });
});
