/**
 * End to end, as the controller will run it: the simulated TDX and SNP TEEs answer with evidence that carries no
 * collateral, the simulated PCS and KDS serve it over real HTTPS, and the production sources (Intel PCS, AMD KDS)
 * fetch it for the verifiers that trust the simulated roots (backendsTrusting).
 */
import { expect } from "chai";
import { exportJWK, generateKeyPair } from "jose";
import { appraise, type Appraisal, type AttestationBackends } from "../appraise.ts";
import { expectedReportData, gpuNonce, type GuestPublicKey } from "../binding.ts";
import { createCachingSource, firstAvailable } from "../collateral/caching-source.ts";
import { createAttestationServiceClient } from "../collateral/attestation-service-client.ts";
import { httpsTransport } from "../../http/transport.ts";
import { createIntelPcsSource } from "../collateral/intel-pcs-source.ts";
import { compilePolicySpec } from "../policy/compiled-policy.ts";
import { defaultTeeBackends } from "../registry.ts";
import { createAmdKdsSource } from "../snp/kds.ts";
import type { CollateralSource } from "../types.ts";
import { backendsTrusting } from "./backends.ts";
import { simulatedChipId } from "./device-identity.ts";
import { startSimulatedCollateralServices, type SimulatedCollateralServices } from "./collateral-services.ts";
import { generateSimPki, simPkiTrustRoots, type SimPki } from "./sim-pki.ts";
import { SimulatedGpus } from "./simulated-gpus.ts";
import { SIMULATED_SNP_MEASUREMENT } from "./simulated-snp.ts";
import { SIMULATED_TDX_MRTD, SIMULATED_TDX_RTMRS } from "./simulated-tdx.ts";
import { SimulatedTee } from "./simulated-tee.ts";

const COLLATERAL_CODES = ["CollateralMissing", "CollateralExpired", "CollateralUnavailable"];
const NONCE = "5e".repeat(32);

describe("simulated TDX and SNP CVMs attested with collateral fetched over HTTPS from the simulated PCS and KDS", function () {
  this.timeout(60_000);
  let pki: SimPki;
  let services: SimulatedCollateralServices;
  let guestKey: GuestPublicKey;

  before(async () => {
    pki = await generateSimPki();
    services = await startSimulatedCollateralServices({ pki });
    const jwk = await exportJWK((await generateKeyPair("ES256")).publicKey);
    guestKey = { kty: "EC", crv: "P-256", x: jwk.x ?? "", y: jwk.y ?? "" };
  });

  after(async () => {
    await services.close();
  });

  /** The operator's sources: Intel PCS/PCCS and AMD KDS at the simulated services, trusting their CA only. */
  function fetchingSource(): CollateralSource {
    const client = createAttestationServiceClient({ transport: httpsTransport({ caPem: services.caPem }) });
    return firstAvailable(
      createIntelPcsSource({ baseUrl: services.url, rootCaCrlUrl: services.rootCaCrlUrl, client }),
      createAmdKdsSource({ baseUrl: services.url, client }),
    );
  }

  async function bundle(tee: "tdx" | "snp", machine: string) {
    const data = await expectedReportData(NONCE, guestKey);
    return {
      nonce: NONCE,
      publicKey: guestKey,
      tee: await new SimulatedTee(pki).collect(data, { machine, tee }),
      gpus: await new SimulatedGpus(pki).collect(gpuNonce(data), { gpus: [`${machine}/0000:41:00.0`] }),
    };
  }

  const policy = compilePolicySpec({
    tdx: {
      mrTd: [SIMULATED_TDX_MRTD],
      rtmr0: [SIMULATED_TDX_RTMRS[0]],
      rtmr1: [SIMULATED_TDX_RTMRS[1]],
      rtmr2: [SIMULATED_TDX_RTMRS[2]],
    },
    snp: { measurement: [SIMULATED_SNP_MEASUREMENT] },
    gpu: { requireRevocationCheck: false },
  });

  const appraised = (value: unknown, tee: "tdx" | "snp", backends: AttestationBackends): Promise<Appraisal> =>
    appraise(value, policy, { now: new Date(), nonce: NONCE, expectedTee: tee, backends });

  for (const tee of ["tdx", "snp"] as const)
    it(`${tee}: the bundle carries no collateral; fetched over HTTPS it is authentic, UpToDate, without collateral errors`, async () => {
      const value = await bundle(tee, `node-${tee}`);
      expect(Object.keys(value.tee).sort()).to.deep.equal(
        tee === "tdx" ? ["quote", "type"] : ["report", "type"],
      );
      const report = await appraised(value, tee, {
        ...backendsTrusting(simPkiTrustRoots(pki)),
        collateral: fetchingSource(),
      });
      expect(report.tee.errors).to.deep.equal([]);
      expect([report.tee.authentic, report.tee.tcbStatus, report.tee.binding]).to.deep.equal([
        true,
        "UpToDate",
        "match",
      ]);
      // A warning only because the GPUs' revocation was not checked, which this policy tolerates.
      expect(report.verdict, JSON.stringify(report.warnings)).to.equal("warning");
    });

  it("asks the services once per item: a cached source does not refetch for the next CVM on the same platform", async () => {
    const source = createCachingSource(fetchingSource());
    const backends = { ...backendsTrusting(simPkiTrustRoots(pki)), collateral: source };
    const paths = [
      "/tdx/certification/v4/tcb",
      "/tdx/certification/v4/qe/identity",
      "/sgx/certification/v4/pckcrl",
      "/sgx/certification/v4/rootcacrl",
      `/vcek/v1/Genoa/${Buffer.from(simulatedChipId("node-c")).toString("hex")}`,
      "/vcek/v1/Genoa/cert_chain",
      "/vcek/v1/Genoa/crl",
    ];
    const counts = (): number[] => paths.map((path) => services.requestCount(path));
    const before = counts();
    for (const tee of ["tdx", "snp"] as const)
      expect((await appraised(await bundle(tee, "node-c"), tee, backends)).tee.errors).to.deep.equal([]);
    const fetched = counts().map((count, i) => count - (before[i] ?? 0));
    expect(fetched).to.deep.equal([1, 1, 1, 1, 1, 1, 1]);
    for (const tee of ["tdx", "snp"] as const)
      expect((await appraised(await bundle(tee, "node-c"), tee, backends)).tee.errors).to.deep.equal([]);
    expect(counts().map((count, i) => count - (before[i] ?? 0))).to.deep.equal(fetched);
  });

  it("with the PCS down the TDX quote has no TCB status: CollateralUnavailable, contraindicated (fails closed)", async () => {
    const remove = services.injectFault({ pathPrefix: "/tdx/", status: 503 });
    try {
      const report = await appraised(await bundle("tdx", "node-d"), "tdx", {
        ...backendsTrusting(simPkiTrustRoots(pki)),
        collateral: fetchingSource(),
      });
      expect(report.tee.tcbStatus).to.equal("Unknown");
      expect(report.tee.errors.map((e) => e.code)).to.include("CollateralUnavailable");
      expect(report.verdict).to.equal("contraindicated");
    } finally {
      remove();
    }
  });

  it("with garbage for a VCEK the SNP report is not authentic", async () => {
    const remove = services.injectFault({ pathPrefix: "/vcek/v1/Genoa/", body: "garbage" });
    try {
      const report = await appraised(await bundle("snp", "node-e"), "snp", {
        ...backendsTrusting(simPkiTrustRoots(pki)),
        collateral: fetchingSource(),
      });
      expect(report.tee.authentic).to.equal(false);
      expect(report.verdict).to.equal("contraindicated");
    } finally {
      remove();
    }
  });

  it("is contraindicated under the production roots, whatever the services serve", async () => {
    for (const tee of ["tdx", "snp"] as const) {
      const report = await appraised(await bundle(tee, "node-f"), tee, {
        ...backendsTrusting(simPkiTrustRoots(pki)),
        tees: defaultTeeBackends(),
        collateral: fetchingSource(),
      });
      expect(report.tee.authentic, tee).to.equal(false);
      expect(
        report.tee.errors.map((e) => e.code),
        tee,
      ).to.include("ChainInvalid");
      expect(
        report.tee.errors.filter((e) => COLLATERAL_CODES.includes(e.code)),
        tee,
      ).to.deep.equal([]);
    }
  });
});
