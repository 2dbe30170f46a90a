import { expect } from "chai";
import { verify, X509Certificate } from "node:crypto";
import { parsePemCertificates } from "../../crypto/pem.ts";
import { isCrlSignedBy, parseCrl } from "../tdx/crl.ts";
import { splitSignedJson } from "../tdx/signed-json.ts";
import { parseQeIdentity, parseTcbInfo } from "../tdx/tcb-info.ts";
import {
  answerFrom,
  simulatedPkiRoutes,
  type CollateralAnswer,
  type CollateralRoute,
} from "./collateral-routes.ts";
import { simulatedChipId } from "./device-identity.ts";
import { generateSimPki, type SimPki } from "./sim-pki.ts";
import { SIMULATED_TDX_FMSPC } from "./tdx-platform.ts";
import { SimulatedIntelCollateral } from "./tdx-collateral.ts";

const HWID = Buffer.from(simulatedChipId("node-a")).toString("hex");
const SPL = "blSPL=9&teeSPL=0&snpSPL=23&ucodeSPL=72";
const DAY_MS = 24 * 3600_000;

describe("simulated PCS and KDS routes", function () {
  this.timeout(30_000);
  let pki: SimPki;
  let routes: CollateralRoute[];
  const ask = (path: string): Promise<CollateralAnswer> =>
    answerFrom(routes, new URL(path, "https://services.invalid"));
  const text = (answer: CollateralAnswer): string => Buffer.from(answer.body ?? "").toString("utf8");

  before(async () => {
    pki = await generateSimPki({ snpProduct: "Genoa" });
    routes = simulatedPkiRoutes(pki).routes;
  });

  const statuses: [string, number][] = [
    [`/tdx/certification/v4/tcb?fmspc=${SIMULATED_TDX_FMSPC}`, 200],
    [`/tdx/certification/v4/tcb?fmspc=${SIMULATED_TDX_FMSPC.toUpperCase()}&update=early`, 200],
    ["/tdx/certification/v4/tcb?fmspc=00906ed50000", 404],
    ["/tdx/certification/v4/tcb?fmspc=00906ed5", 400],
    ["/tdx/certification/v4/tcb", 400],
    [`/tdx/certification/v4/tcb?fmspc=${SIMULATED_TDX_FMSPC}&update=latest`, 400],
    ["/tdx/certification/v4/qe/identity", 200],
    ["/tdx/certification/v4/qe/identity?update=standard", 200],
    ["/tdx/certification/v4/qe/identity?update=soon", 400],
    ["/sgx/certification/v4/pckcrl?ca=platform&encoding=der", 200],
    ["/sgx/certification/v4/pckcrl?ca=platform", 200],
    ["/sgx/certification/v4/pckcrl?ca=processor&encoding=der", 404],
    ["/sgx/certification/v4/pckcrl?ca=root", 400],
    ["/sgx/certification/v4/pckcrl?ca=platform&encoding=base64", 400],
    ["/sgx/certification/v4/rootcacrl", 200],
    [`/vcek/v1/Genoa/${HWID}?${SPL}`, 200],
    [`/vcek/v1/Genoa/${HWID.toUpperCase()}?${SPL}`, 200],
    [`/vcek/v1/Genoa/${HWID}?blSPL=9&teeSPL=0&snpSPL=23`, 400],
    [`/vcek/v1/Genoa/${HWID}?blSPL=9&teeSPL=0&snpSPL=23&ucodeSPL=256`, 400],
    [`/vcek/v1/Genoa/${HWID}?blSPL=9&teeSPL=0&snpSPL=x&ucodeSPL=72`, 400],
    [`/vcek/v1/Genoa/${HWID}?${SPL}&fmcSPL=1`, 400],
    [`/vcek/v1/Genoa/${HWID.slice(0, 16)}?${SPL}`, 400],
    ["/vcek/v1/Genoa/cert_chain", 200],
    ["/vcek/v1/Genoa/crl", 200],
    ["/vcek/v1/Milan/cert_chain", 404],
    [`/vcek/v1/Milan/${HWID}?${SPL}`, 404],
    ["/vlek/v1/Genoa/cert_chain", 404],
    ["/", 404],
  ];
  for (const [path, status] of statuses)
    it(`${path} → ${status}`, async () => {
      expect((await ask(path)).status).to.equal(status);
    });

  it("serves TDX TCB info v3 for the simulated FMSPC as PCS does: body, signature over the exact text, chain header", async () => {
    const answer = await ask(`/tdx/certification/v4/tcb?fmspc=${SIMULATED_TDX_FMSPC}`);
    expect(answer.headers?.["Content-Type"]).to.equal("application/json");
    expect(answer.headers?.["Request-ID"]).to.match(/^[0-9a-f]{32}$/);
    const signed = splitSignedJson(text(answer), "tcbInfo", "TCB info");
    const info = parseTcbInfo(signed.text);
    expect([info.id, info.version, info.fmspc, info.pceId]).to.deep.equal([
      "TDX",
      3,
      SIMULATED_TDX_FMSPC,
      "0000",
    ]);
    expect(info.nextUpdate.getTime() - info.issueDate.getTime()).to.equal(30 * DAY_MS);
    expect(info.tdxModuleIdentities.map((m) => m.id)).to.deep.equal(["TDX_01"]);
    expect(info.tcbLevels.map((level) => level.status)).to.deep.equal(["UpToDate", "OutOfDate"]);
    const chain = decodeURIComponent(answer.headers?.["TCB-Info-Issuer-Chain"] ?? "");
    const [signer, root] = parsePemCertificates(chain, "chain").map((der) => new X509Certificate(der));
    expect(root?.raw.equals(pki.intel?.root.raw ?? Buffer.alloc(0))).to.equal(true);
    if (signer === undefined) throw new Error("no TCB Signing certificate in the chain");
    const signature = Buffer.from(signed.signature, "hex");
    const key = { key: signer.publicKey, dsaEncoding: "ieee-p1363" as const };
    expect(verify("sha256", Buffer.from(signed.text), key, signature)).to.equal(true);
  });

  it("serves the TD_QE identity v2 with its issuer chain", async () => {
    const answer = await ask("/tdx/certification/v4/qe/identity");
    const identity = parseQeIdentity(splitSignedJson(text(answer), "enclaveIdentity", "QE identity").text);
    expect([identity.id, identity.version, identity.isvProdId]).to.deep.equal(["TD_QE", 2, 2]);
    expect(answer.headers?.["SGX-Enclave-Identity-Issuer-Chain"]).to.include("BEGIN%20CERTIFICATE");
  });

  it("serves the PCK CRL as DER (encoding=der) or PEM, signed by the PCK Platform CA, and the root CA CRL", async () => {
    const der = await ask("/sgx/certification/v4/pckcrl?ca=platform&encoding=der");
    expect(der.headers?.["Content-Type"]).to.equal("application/pkix-crl");
    const crl = parseCrl(Buffer.from(der.body ?? ""), "PCK CRL");
    expect(isCrlSignedBy(crl, pki.intel?.pckCa.certificate ?? pki.nvidia.root)).to.equal(true);
    expect(crl.revokedSerials.size).to.equal(0);
    expect(decodeURIComponent(der.headers?.["SGX-PCK-CRL-Issuer-Chain"] ?? "")).to.equal(
      (pki.intel?.pckCa.certificate.toString() ?? "") + (pki.intel?.root.toString() ?? ""),
    );
    const pem = await ask("/sgx/certification/v4/pckcrl?ca=platform");
    expect(pem.headers?.["Content-Type"]).to.equal("application/x-pem-file");
    expect(text(pem)).to.match(/^-----BEGIN X509 CRL-----\n/);
    const root = parseCrl(Buffer.from((await ask("/sgx/certification/v4/rootcacrl")).body ?? ""), "root CRL");
    expect(isCrlSignedBy(root, pki.intel?.root ?? pki.nvidia.root)).to.equal(true);
  });

  it("serves the VCEK of any chip and TCB asked for (issued by the simulated ASK), the ASK+ARK chain and the CRL", async () => {
    const vcek = new X509Certificate(Buffer.from((await ask(`/vcek/v1/Genoa/${HWID}?${SPL}`)).body ?? ""));
    expect(vcek.subject).to.equal("CN=SEV-VCEK");
    expect(vcek.checkIssued(new X509Certificate(pki.amd.intermediatePem))).to.equal(true);
    expect(text(await ask("/vcek/v1/Genoa/cert_chain"))).to.equal(pki.amd.intermediatePem + pki.amd.arkPem);
    expect(
      Buffer.from((await ask("/vcek/v1/Genoa/crl")).body ?? "").equals(Buffer.from(pki.amdCrl ?? [])),
    ).to.equal(true);
  });

  it("answers 404 for the KDS CRL of a PKI directory written before the CRL was kept", async () => {
    const older: SimPki = { ...pki };
    delete older.amdCrl;
    const old = simulatedPkiRoutes(older).routes;
    expect((await answerFrom(old, new URL("https://s.invalid/vcek/v1/Genoa/crl"))).status).to.equal(404);
  });
});

describe("SimulatedIntelCollateral", function () {
  this.timeout(30_000);
  let pki: SimPki;

  before(async () => {
    pki = await generateSimPki();
  });

  it("reuses a document until a day before its nextUpdate, then issues a new one", () => {
    let now = new Date("2026-01-01T00:00:00Z");
    const collateral = new SimulatedIntelCollateral(pki.intel!, { now: () => now });
    const issueDate = (): string =>
      parseTcbInfo(
        splitSignedJson(collateral.tcbInfo(SIMULATED_TDX_FMSPC)?.body ?? "", "tcbInfo", "T").text,
      ).issueDate.toISOString();
    const first = issueDate();
    expect(first).to.equal("2025-12-31T23:55:00.000Z");
    now = new Date(now.getTime() + 28 * DAY_MS);
    expect(issueDate()).to.equal(first);
    now = new Date(now.getTime() + 1.5 * DAY_MS);
    expect(issueDate()).to.equal("2026-01-30T11:55:00.000Z");
  });

  it("lists a machine revoked at run time on a new PCK CRL", () => {
    const collateral = new SimulatedIntelCollateral(pki.intel!);
    const before = collateral.pckCrl("platform");
    collateral.revokeMachine("node-z");
    const after = collateral.pckCrl("platform");
    expect(parseCrl(before?.der ?? new Uint8Array(), "before").revokedSerials.size).to.equal(0);
    expect(parseCrl(after?.der ?? new Uint8Array(), "after").revokedSerials.size).to.equal(1);
  });
});
