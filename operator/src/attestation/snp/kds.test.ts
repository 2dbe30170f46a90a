import { expect } from "chai";
import { localFixture } from "../../../test/fixtures/snp/shared-items.ts";
import { fetchTransport } from "../../http/transport.ts";
import { createAttestationServiceClient } from "../collateral/attestation-service-client.ts";
import { EvidenceError, type TeeEvidence } from "../types.ts";
import {
  certChainCollateralKey,
  createAmdKdsSource,
  SNP_CERT_CHAIN_KIND,
  SNP_CRL_KIND,
  SNP_VCEK_KIND,
  vcekCollateralKey,
} from "./kds.ts";
import { createSnpVerifier } from "./verifier.ts";

type Answer = Response | Error;

function fakeFetch(answer: (url: string) => Answer): { fetch: typeof globalThis.fetch; urls: string[] } {
  const urls: string[] = [];
  const fetch = (input: string | URL | Request): Promise<Response> => {
    const url = input instanceof Request ? input.url : String(input);
    urls.push(url);
    const result = answer(url);
    return result instanceof Error ? Promise.reject(result) : Promise.resolve(result);
  };
  return { fetch, urls };
}

/** The production client over a fake fetch, one attempt per request (no retry waits). */
const clientOver = (fetch: typeof globalThis.fetch) =>
  createAttestationServiceClient({ transport: fetchTransport(fetch), retry: { maxAttempts: 1 } });

const body = (bytes: Uint8Array | string): Response =>
  new Response(typeof bytes === "string" ? bytes : Buffer.from(bytes));
const CHIP_ID = Uint8Array.from({ length: 64 }, (_, i) => i);

describe("AMD KDS collateral source", () => {
  it("builds KDS paths: 64-byte hwID for Milan/Genoa, 8-byte hwID and fmcSPL for Turin", () => {
    const milan = vcekCollateralKey("Milan", CHIP_ID, {
      raw: "",
      bootloader: 2,
      tee: 0,
      snp: 5,
      microcode: 68,
    });
    expect(milan).to.equal(
      `Milan/${Buffer.from(CHIP_ID).toString("hex")}?blSPL=2&teeSPL=0&snpSPL=5&ucodeSPL=68`,
    );
    const turin = vcekCollateralKey("Turin", CHIP_ID.subarray(0, 8), {
      raw: "",
      fmc: 1,
      bootloader: 2,
      tee: 3,
      snp: 4,
      microcode: 9,
    });
    expect(turin).to.equal("Turin/0001020304050607?blSPL=2&teeSPL=3&snpSPL=4&ucodeSPL=9&fmcSPL=1");
  });

  it("fetches a VCEK, the cert chains and the CRLs from the KDS URLs and caches them", async () => {
    const { fetch, urls } = fakeFetch(() => body("bytes"));
    const source = createAmdKdsSource({ client: clientOver(fetch) });
    const key = vcekCollateralKey("Genoa", CHIP_ID, { raw: "", bootloader: 1, tee: 0, snp: 2, microcode: 3 });
    expect(Buffer.from((await source.get(SNP_VCEK_KIND, key)) ?? []).toString()).to.equal("bytes");
    await source.get(SNP_VCEK_KIND, key);
    await source.get(SNP_CERT_CHAIN_KIND, certChainCollateralKey("Milan", "vcek"));
    await source.get(SNP_CERT_CHAIN_KIND, certChainCollateralKey("Turin", "vlek"));
    await source.get(SNP_CRL_KIND, certChainCollateralKey("Genoa", "vcek"));
    expect(urls).to.deep.equal([
      `https://kdsintf.amd.com/vcek/v1/${key}`,
      "https://kdsintf.amd.com/vcek/v1/Milan/cert_chain",
      "https://kdsintf.amd.com/vlek/v1/Turin/cert_chain",
      "https://kdsintf.amd.com/vcek/v1/Genoa/crl",
    ]);
  });

  it("re-fetches a cert chain after its TTL", async () => {
    let clock = 0;
    const { fetch, urls } = fakeFetch(() => body("chain"));
    const source = createAmdKdsSource({ client: clientOver(fetch), chainTtlMs: 1000, now: () => clock });
    const key = certChainCollateralKey("Genoa", "vcek");
    await source.get(SNP_CERT_CHAIN_KIND, key);
    clock = 999;
    await source.get(SNP_CERT_CHAIN_KIND, key);
    clock = 1001;
    await source.get(SNP_CERT_CHAIN_KIND, key);
    expect(urls).to.have.length(2);
  });

  it("answers undefined for unknown kinds or keys without fetching, and for 404 (not cached)", async () => {
    const { fetch, urls } = fakeFetch(() => new Response("", { status: 404 }));
    const source = createAmdKdsSource({ client: clientOver(fetch) });
    expect(await source.get("tdx-tcb-info", "00906ED50000")).to.equal(undefined);
    expect(await source.get(SNP_VCEK_KIND, "Milan/../../evil")).to.equal(undefined);
    expect(await source.get(SNP_CERT_CHAIN_KIND, "Rome/vcek")).to.equal(undefined);
    expect(urls).to.have.length(0);
    const key = certChainCollateralKey("Milan", "vlek");
    expect(await source.get(SNP_CERT_CHAIN_KIND, key)).to.equal(undefined);
    expect(await source.get(SNP_CERT_CHAIN_KIND, key)).to.equal(undefined);
    expect(urls).to.have.length(2);
  });

  it("turns server errors and network failures into CollateralUnavailable and does not cache them", async () => {
    let fail: Answer = new Response("busy", { status: 503 });
    const { fetch, urls } = fakeFetch(() => fail);
    const source = createAmdKdsSource({ client: clientOver(fetch) });
    const key = certChainCollateralKey("Milan", "vcek");
    for (const answer of [new Response("busy", { status: 503 }), new TypeError("fetch failed")]) {
      fail = answer;
      try {
        await source.get(SNP_CERT_CHAIN_KIND, key);
        expect.fail("no error");
      } catch (error) {
        expect(error).to.be.instanceOf(EvidenceError);
        expect((error as EvidenceError).code).to.equal("CollateralUnavailable");
      }
    }
    expect(urls).to.have.length(2);
  });

  it("backs off after a 429 for its Retry-After, and then no caller asks before that time", async () => {
    let clock = 0;
    const sleeps: number[] = [];
    let answers = [
      new Response("slow down", { status: 429, headers: { "Retry-After": "5" } }),
      body("chain"),
      new Response("slow down", { status: 429, headers: { "Retry-After": "600" } }),
    ];
    const { fetch, urls } = fakeFetch(() => {
      const [next, ...rest] = answers;
      answers = rest;
      return next ?? new Error("unexpected request");
    });
    const source = createAmdKdsSource({
      client: createAttestationServiceClient({
        transport: fetchTransport(fetch),
        now: () => clock,
        random: () => 0.5,
        sleep: (ms) => {
          sleeps.push(ms);
          clock += ms;
          return Promise.resolve();
        },
      }),
      chainTtlMs: 1,
      now: () => clock,
    });
    const key = certChainCollateralKey("Genoa", "vcek");
    expect(Buffer.from((await source.get(SNP_CERT_CHAIN_KIND, key)) ?? []).toString()).to.equal("chain");
    expect(sleeps).to.deep.equal([5000]);
    const limited: unknown = await source.get(SNP_CRL_KIND, key).catch((error: unknown) => error);
    expect((limited as Error).message).to.match(/answered HTTP 429 "slow down" \(Retry-After asks for 600 s/);
    const vcek = vcekCollateralKey("Genoa", CHIP_ID, {
      raw: "",
      bootloader: 1,
      tee: 0,
      snp: 2,
      microcode: 3,
    });
    const gated: unknown = await source.get(SNP_VCEK_KIND, vcek).catch((error: unknown) => error);
    expect((gated as Error).message).to.match(
      /rate limited: the service asked not to be asked again for 600 s$/,
    );
    expect(urls, "the gated request never reached KDS").to.have.length(3);
  });

  it("lets the verifier fetch a missing VCEK from (fake) KDS and verify it against the pinned chain", async () => {
    const { fetch, urls } = fakeFetch((url) =>
      url.includes("/vcek/v1/Milan/3ac3")
        ? body(localFixture("milan-v2-vcek.der"))
        : new Response("", { status: 404 }),
    );
    const evidence: TeeEvidence = {
      type: "snp",
      report: Buffer.from(localFixture("milan-v2-report.bin")).toString("base64"),
    };
    const v = await createSnpVerifier().verify(evidence, {
      now: new Date("2024-01-01T00:00:00Z"),
      collateral: createAmdKdsSource({ client: clientOver(fetch) }),
    });
    expect(v.authentic, JSON.stringify(v.errors)).to.equal(true);
    expect(urls[0]).to.match(
      /^https:\/\/kdsintf\.amd\.com\/vcek\/v1\/Milan\/3ac3fe21[0-9a-f]{120}\?blSPL=2&teeSPL=0&snpSPL=5&ucodeSPL=68$/,
    );
  });
});
