import { expect } from "chai";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parsePemCertificates } from "../../../../operator/src/crypto/pem.ts";
import { createRimAppraiser } from "../../../../operator/src/attestation/gpu/rim/rim-measurement-check.ts";
import { directoryRimSource } from "../../../../operator/src/attestation/gpu/rim/rim-source.ts";
import { createLocalGpuVerifier } from "../../../../operator/src/attestation/gpu/verifier.ts";
import { compileFakeNscq, type FakeNscq } from "../../../test/fake-nscq/fake-nscq.ts";
import { loadKoffiNscq } from "./koffi-nscq.ts";
import { NscqSwitches } from "./nscq-switches.ts";

const FIXTURE = fileURLToPath(
  new URL("../../../../operator/test/fixtures/evidence/nvidia/sdk-nvswitch-ls10/", import.meta.url),
);
const realReport = Uint8Array.from(
  Buffer.from(readFileSync(`${FIXTURE}attestation_report.hex`, "utf8").replace(/\s+/g, ""), "hex"),
);
const realChainPem = readFileSync(`${FIXTURE}cert_chain.pem`, "utf8");
const realNonce = Uint8Array.from(
  Buffer.from("931d8dd0add203ac3d8b4fbde75e115278eefcdceac5b87671a748f32364dfcb", "hex"),
);

describe("NSCQ over FFI (koffi) against a compiled stand-in for libnvidia-nscq", function () {
  this.timeout(60_000);
  let fake: FakeNscq | undefined;
  const compiled = (): FakeNscq => {
    if (fake === undefined) throw new Error("no compiled fake");
    return fake;
  };

  before(async function () {
    fake = await compileFakeNscq();
    if (fake === undefined) this.skip();
  });
  beforeEach(() => {
    fake?.reset();
  });
  after(async () => {
    await fake?.remove();
  });

  const uuid = (n: number): Uint8Array =>
    Uint8Array.from({ length: 16 }, (_, i) => (i === 15 ? n : 0xa0 + i));
  const realChainDer = (): Uint8Array =>
    Uint8Array.from(
      Buffer.concat(
        parsePemCertificates(realChainPem, "fixture chain", { ignoreTextOutsideBlocks: true }).map((d) =>
          Buffer.from(d),
        ),
      ),
    );

  it("reads the real LS10 report for the nonce and its certificate chain through the real entry points", async () => {
    compiled().addSwitch({ uuid: uuid(1), nonce: realNonce, report: realReport, chain: realChainDer() });
    const switches = await new NscqSwitches(() => loadKoffiNscq(compiled().library)).collect(realNonce);
    expect(switches).to.have.length(1);
    const [entry] = switches;
    expect(entry?.arch).to.equal("LS10");
    expect(Buffer.from(entry?.evidence ?? "", "base64").equals(Buffer.from(realReport))).to.equal(true);
    const pems = parsePemCertificates(entry?.certChain ?? "", "collected", {});
    expect(pems).to.have.length(5);
    expect(entry?.certChain.replace(/\s+/g, "")).to.equal(realChainPem.replace(/\s+/g, ""));
    expect(compiled().sessionsOpen()).to.equal(0);
  });

  it("the entry collected from the real LS10 evidence passes the operator's verifier (nonce, chain, RIM)", async () => {
    compiled().addSwitch({ uuid: uuid(1), nonce: realNonce, report: realReport, chain: realChainDer() });
    const [entry] = await new NscqSwitches(() => loadKoffiNscq(compiled().library)).collect(realNonce);
    if (entry === undefined) throw new Error("one switch expected");
    const verifier = createLocalGpuVerifier({
      measurements: createRimAppraiser({ source: directoryRimSource(`${FIXTURE}rims`) }),
    });
    // Inside the switch BIOS RIM signer's validity (MANIFEST.md); revocation is not checked offline.
    const [result] = await verifier.verify([entry], {
      now: new Date("2026-06-01T00:00:00Z"),
      expectedNonce: realNonce,
    });
    expect([result?.authentic, result?.deviceType, result?.measurements, result?.errors]).to.deep.equal([
      true,
      "switch",
      "match",
      [],
    ]);
  });

  it("enumerates every switch and addresses each by its label", async () => {
    for (const n of [1, 2, 3, 4])
      compiled().addSwitch({
        uuid: uuid(n),
        nonce: realNonce,
        report: Uint8Array.from([n, ...realNonce]),
        chain: realChainDer(),
      });
    const switches = await new NscqSwitches(() => loadKoffiNscq(compiled().library)).collect(realNonce);
    expect(switches.map((s) => Buffer.from(s.evidence, "base64")[0])).to.deep.equal([1, 2, 3, 4]);
  });

  it("fails with the NSCQ error when the switch cannot answer the nonce, and still closes the session", async () => {
    compiled().addSwitch({ uuid: uuid(1), nonce: realNonce, report: realReport, chain: realChainDer() });
    const other = new Uint8Array(32).fill(7);
    const error = await new NscqSwitches(() => loadKoffiNscq(compiled().library)).collect(other).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.message).to.match(/attestation_report.*NSCQ error -7 \(NSCQ_RC_ERROR_DRV\)/);
    expect(compiled().sessionsOpen()).to.equal(0);
  });

  it("refuses a nonce that is not 32 bytes before calling the library", async () => {
    compiled().addSwitch({ uuid: uuid(1), nonce: realNonce, report: realReport, chain: realChainDer() });
    const error = await new NscqSwitches(() => loadKoffiNscq(compiled().library))
      .collect(new Uint8Array(16))
      .then(
        () => undefined,
        (e: unknown) => e as Error,
      );
    expect(error?.message).to.equal("the NVSwitch nonce must be 32 bytes, not 16");
  });

  it("names the library when it cannot be loaded", async () => {
    const error = await loadKoffiNscq("/nonexistent/libnvidia-nscq.so.2").then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.message).to.match(
      /^cannot load \/nonexistent\/libnvidia-nscq\.so\.2 \(is the NVSwitch driver/,
    );
  });
});
