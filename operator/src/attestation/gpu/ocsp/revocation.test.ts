import { expect } from "chai";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startLocalHttps, type LocalHttps } from "../../../../test/support/fakes/local-https.ts";
import { encodeEvidence, opaque } from "../../simulated/spdm-evidence.ts";
import { generateNvidiaHierarchy, issueNvidiaDevice } from "../../simulated/nvidia-pki.ts";
import {
  issueOcspResponder,
  ocspResponse,
  simulatedOcspSource,
  type SimulatedOcspOptions,
} from "../../simulated/nvidia-ocsp.ts";
import { generateRimCa, signedRim } from "../../simulated/nvidia-rim.ts";
import { parsePemCertificates } from "../../../crypto/pem.ts";
import {
  createAttestationServiceClient,
  type AttestationServiceClient,
} from "../../collateral/attestation-service-client.ts";
import type { GpuVerificationSources } from "../../types.ts";
import { createRimAppraiser } from "../rim/rim-measurement-check.ts";
import { createLocalGpuVerifier, type LocalGpuResult } from "../verifier.ts";
import { directoryOcspSource, type OcspSource } from "./ocsp-source.ts";
import { createOcspRevocationChecker } from "./revocation.ts";

const ca = generateNvidiaHierarchy();
const rimCa = generateRimCa({ ocspResponders: (issuer) => issueOcspResponder(issuer) });
const responders = [ca.root, ca.identity, ca.ica].map((c) => issueOcspResponder(c));
const device = issueNvidiaDevice({
  root: ca.root.certificate,
  identity: ca.identity.certificate,
  ica: ca.ica,
});
const chain = parsePemCertificates(device.chainPem, "chain").map((der) => new X509Certificate(der));
const BLOCK = new Uint8Array(48).fill(7);
const BLOCK2 = new Uint8Array(48).fill(9);
const entry = {
  arch: "HOPPER" as const,
  evidence: Buffer.from(
    encodeEvidence(
      {
        blocks: [
          { index: 1, value: BLOCK },
          { index: 2, value: BLOCK2 },
        ],
        opaque: [
          opaque.driverVersion("550.90.07"),
          opaque.gpuVbios("96.00.9F.00.01"),
          opaque.project("1010"),
          opaque.projectSku("0200"),
          opaque.chipSku("882"),
        ],
      },
      device.leafKey,
    ),
  ).toString("base64"),
  certChain: device.chainPem,
  rims: {
    driver: signedRim({ version: "550.90.07", active: new Map([[0, [BLOCK]]]) }, rimCa),
    vbios: signedRim({ version: "96.00.9F.00.01", active: new Map([[1, [BLOCK2]]]), lastIndex: 1 }, rimCa),
  },
};

function verifier(sources: readonly OcspSource[], client?: AttestationServiceClient) {
  return createLocalGpuVerifier({
    anchors: { roots: [ca.root.certificate.toString()] },
    measurements: createRimAppraiser({ anchors: { roots: [rimCa.root.toString()] } }),
    revocation: createOcspRevocationChecker({ sources, client }),
  });
}

async function verifyOne(
  sources: readonly OcspSource[],
  policy: Partial<GpuVerificationSources> = {},
  now = new Date(),
): Promise<LocalGpuResult> {
  const [result] = await verifier(sources).verify([entry], {
    now,
    sources: { mode: "local", allowCertificateHold: false, ...policy },
  });
  if (result === undefined) throw new Error("no result");
  return result;
}

const simulated = (statusOf?: SimulatedOcspOptions["statusOf"]) =>
  simulatedOcspSource(
    [...responders, ...(rimCa.ocspResponders ?? [])],
    statusOf === undefined ? {} : { statusOf },
  );
const codes = (r: LocalGpuResult): string[] => r.errors.map((e) => e.code);
const held = (cert: X509Certificate) =>
  cert.serialNumber === chain[2]?.serialNumber
    ? {
        status: "revoked" as const,
        revokedAt: new Date(Date.now() - 86_400_000),
        reason: "certificateHold" as const,
      }
    : { status: "good" as const };

describe("OCSP revocation of the device and RIM chains", () => {
  it("no responder configured: revocation unchecked, no error", async () => {
    const result = await verifyOne([]);
    expect([result.authentic, result.measurements, result.revocation]).to.deep.equal([
      true,
      "match",
      "unchecked",
    ]);
    expect(codes(result)).to.deep.equal([]);
  });

  it("every certificate good: device chain (BROM, ICA, identity CA) and RIM chains (signer, CA) are asked", async () => {
    const asked: string[] = [];
    const source = simulated();
    const counting: OcspSource = {
      name: "counting",
      get: (query) => {
        asked.push(query.certificate.subject.replace(/\n/g, ","));
        return source.get(query);
      },
    };
    const result = await verifyOne([counting]);
    expect(codes(result)).to.deep.equal([]);
    expect(result.revocation).to.equal("good");
    // The two RIMs share their chain: its answers come from the cache the second time.
    expect(asked).to.deep.equal([
      "CN=GH100 A01 GSP BROM",
      "CN=NVIDIA GH100 Provisioner ICA 1",
      "CN=NVIDIA GH100 Identity",
      "CN=HCC RIM L4 Signer",
      "CN=NVIDIA Reference Value GH100 CA",
    ]);
  });

  it("a revoked certificate makes the GPU revoked (CertificateRevoked)", async () => {
    const result = await verifyOne([
      simulated((cert) =>
        cert.subject.includes("BROM")
          ? { status: "revoked", revokedAt: new Date("2025-01-01T00:00:00Z"), reason: "keyCompromise" }
          : { status: "good" },
      ),
    ]);
    expect(result.revocation).to.equal("revoked");
    expect(codes(result)).to.deep.equal(["CertificateRevoked"]);
    expect(result.errors[0]?.message).to.match(
      /device certificate GH100 A01 GSP BROM was revoked .*keyCompromise/,
    );
  });

  it("certificateHold is revoked unless spec.gpu.allowCertificateHold", async () => {
    const strict = await verifyOne([simulated(held)]);
    expect([strict.revocation, ...codes(strict)]).to.deep.equal(["revoked", "CertificateRevoked"]);
    const lenient = await verifyOne([simulated(held)], { allowCertificateHold: true });
    expect([lenient.revocation, ...codes(lenient)]).to.deep.equal(["good"]);
  });

  it("status unknown and a responder without an answer leave revocation unchecked (CollateralUnavailable)", async () => {
    const unknown = await verifyOne([simulated(() => ({ status: "unknown" }))]);
    expect(unknown.revocation).to.equal("unchecked");
    expect(new Set(codes(unknown))).to.deep.equal(new Set(["CollateralUnavailable"]));
    const empty = await verifyOne([{ name: "empty", get: () => Promise.resolve(undefined) }]);
    expect(empty.revocation).to.equal("unchecked");
    expect(empty.errors[0]?.message).to.match(/no OCSP response for GH100 A01 GSP BROM from empty/);
  });

  describe("offline directory of DER responses", () => {
    const dir = mkdtempSync(join(tmpdir(), "trustgate-ocsp-"));
    after(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    it("answers from files named anything; an expired file is CollateralExpired; other files are ignored", async () => {
      const now = new Date();
      const window = {
        thisUpdate: new Date(now.getTime() - 3600_000),
        nextUpdate: new Date(now.getTime() + 3600_000),
      };
      for (const [i, cert] of chain.slice(1, -1).entries()) {
        const issuer = chain[i + 2] as X509Certificate;
        const signer = responders.find((r) => r.certificate.checkIssued(issuer));
        if (signer === undefined) throw new Error("no responder");
        writeFileSync(
          join(dir, `response-${i}.der`),
          ocspResponse({ certificate: cert, issuer, signer, status: { status: "good" }, ...window }),
        );
      }
      writeFileSync(join(dir, "README.md"), "not a response");
      const deviceOnly = await verifyOne([directoryOcspSource(dir)]);
      // The device chain is answered; the RIM chains are not in the directory.
      expect(deviceOnly.revocation).to.equal("unchecked");
      expect(deviceOnly.errors.map((e) => e.message).filter((m) => m.startsWith("device"))).to.deep.equal([]);
      const later = await verifyOne([directoryOcspSource(dir)], {}, new Date(now.getTime() + 2 * 3600_000));
      expect(codes(later)).to.include("CollateralExpired");
    });
  });

  describe("the policy's gpu.ocspUrl (HTTPS POST)", () => {
    let server: LocalHttps;
    before(async () => {
      server = await startLocalHttps();
    });
    after(async () => {
      await server.close();
    });

    it("POSTs application/ocsp-request and verifies what comes back; HTTP errors are CollateralUnavailable", async () => {
      const source = simulated();
      server.handle((seen, res) => {
        void (async () => {
          const request = (await import("pkijs")).OCSPRequest.fromBER(seen.body);
          const serial = Buffer.from(
            request.tbsRequest.requestList[0]?.reqCert.serialNumber.valueBlock.valueHexView ?? [],
          ).toString("hex");
          const target = [...chain, rimCa.signer.certificate, rimCa.ca].find(
            (c) => c.serialNumber.toLowerCase().replace(/^0+/, "") === serial.replace(/^0+/, ""),
          );
          const issuer = [...chain, rimCa.ca, rimCa.root].find(
            (c) => target !== undefined && target.checkIssued(c) && target !== c,
          );
          const der =
            target === undefined || issuer === undefined
              ? undefined
              : await source.get({ certificate: target, issuer });
          if (der === undefined) res.writeHead(500).end();
          else res.writeHead(200, { "content-type": "application/ocsp-response" }).end(Buffer.from(der));
        })();
      });
      const [result] = await verifier(
        [],
        createAttestationServiceClient({ transport: server.transport }),
      ).verify([entry], {
        now: new Date(),
        sources: { mode: "local", allowCertificateHold: false, ocspUrl: `${server.url}/ocsp` },
      });
      expect(result?.errors).to.deep.equal([]);
      expect(result?.revocation).to.equal("good");
      expect(
        server.seen.every((s) => s.method === "POST" && s.contentType === "application/ocsp-request"),
      ).to.equal(true);
      expect(server.seen).to.have.length(5);

      server.handle((_seen, res) => res.writeHead(503).end());
      const oneAttempt = createAttestationServiceClient({
        transport: server.transport,
        retry: { maxAttempts: 1 },
      });
      const [down] = await verifier([], oneAttempt).verify([entry], {
        now: new Date(),
        sources: { mode: "local", allowCertificateHold: false, ocspUrl: `${server.url}/ocsp` },
      });
      expect(down?.revocation).to.equal("unchecked");
      expect(down?.errors[0]).to.deep.include({ code: "CollateralUnavailable" });
      expect(down?.errors[0]?.message).to.include(`OCSP responder ${server.url}/ocsp: answered HTTP 503`);
    });
  });
});
