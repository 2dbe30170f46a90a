import { expect } from "chai";
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FIXTURE_TDX_DIR, SHARED_TDX_DIR } from "../../../test/fixtures/tdx/items.ts";
import { EvidenceError } from "../types.ts";
import { parseTdxQuote } from "./quote.ts";

const read = (path: string): Uint8Array => new Uint8Array(readFileSync(path));
const hex = (bytes: Uint8Array | undefined): string => Buffer.from(bytes ?? []).toString("hex");
const v4 = read(join(FIXTURE_TDX_DIR, "dcapqvl-uptodate-v4/quote.dat"));
const v5 = read(join(FIXTURE_TDX_DIR, "dcapqvl-v5-no-tcb-level/quote.dat"));

function codeOf(bytes: Uint8Array): string | undefined {
  try {
    parseTdxQuote(bytes);
    return undefined;
  } catch (error) {
    if (error instanceof EvidenceError) return error.code;
    throw error;
  }
}

describe("parseTdxQuote", () => {
  const shared: {
    name: string;
    size: number;
    fileSize: number;
    version: number;
    body: string;
    mrTd: string;
  }[] = [
    {
      name: "google-spr-e4-v4/quote.dat",
      size: 4935,
      fileSize: 4974,
      version: 4,
      body: "tdx10",
      mrTd: "6363b804",
    },
    { name: "google-v5-sample/quote.dat", size: 5006, fileSize: 5006, version: 5, body: "tdx15", mrTd: "" },
    {
      name: "google-gcp-cos113-ccel/quote.dat",
      size: 4935,
      fileSize: 8000,
      version: 4,
      body: "tdx10",
      mrTd: "dae67181",
    },
    {
      name: "dcapqvl-uptodate-v4/quote.dat",
      size: 4936,
      fileSize: 5006,
      version: 4,
      body: "tdx10",
      mrTd: "91eb2b44",
    },
    {
      name: "dcapqvl-v5-no-tcb-level/quote.dat",
      size: 5006,
      fileSize: 5006,
      version: 5,
      body: "tdx15",
      mrTd: "273828c4",
    },
    {
      name: "automata-00806f050000-v4/quote.bin",
      size: 4935,
      fileSize: 8000,
      version: 4,
      body: "tdx10",
      mrTd: "935be774",
    },
  ];
  for (const expected of shared) {
    it(`reads ${expected.name} by its declared lengths (${expected.fileSize - expected.size} bytes of padding)`, () => {
      const bytes = read(join(SHARED_TDX_DIR, expected.name));
      expect(bytes.length).to.equal(expected.fileSize);
      const quote = parseTdxQuote(bytes);
      expect(quote.size).to.equal(expected.size);
      expect(quote.header.version).to.equal(expected.version);
      expect(quote.bodyType).to.equal(expected.body);
      expect(quote.signedRegion.length).to.equal(expected.version === 4 ? 632 : 702);
      expect(hex(quote.body.mrTd).startsWith(expected.mrTd)).to.equal(true);
      expect(quote.qeAuthData.length).to.equal(32);
      expect(Buffer.from(quote.pckCertChain).toString("latin1")).to.match(/-----END CERTIFICATE-----\n$/);
    });
  }

  it("decodes the TD report fields at the manifest offsets (google-spr-e4-v4)", () => {
    const quote = parseTdxQuote(read(join(SHARED_TDX_DIR, "google-spr-e4-v4/quote.dat")));
    expect(hex(quote.header.qeVendorId)).to.equal("939a7233f79c4ca9940a0db3957f0607");
    expect(hex(quote.body.teeTcbSvn)).to.equal("03000400000000000000000000000000");
    expect(hex(quote.body.tdAttributes)).to.equal("0000004000000000");
    expect(hex(quote.body.xfam)).to.equal("e71a060000000000");
    expect(hex(quote.body.rtmrs[0])).to.match(/^2927da70461cd632/);
    expect(hex(quote.body.rtmrs[1])).to.match(/^2c700b8b/);
    expect(hex(quote.body.rtmrs[2])).to.match(/^8652f0ca/);
    expect(hex(quote.body.reportData)).to.match(/^6c62dec1b8191749/);
    expect(quote.qeReport.isvProdId).to.equal(2);
    expect(quote.qeReport.isvSvn).to.equal(4);
    expect(hex(quote.qeReport.mrSigner)).to.equal(
      "dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5",
    );
    expect(hex(quote.qeAuthData)).to.equal(hex(Uint8Array.from({ length: 32 }, (_, i) => i)));
  });

  it("decodes TEE_TCB_SVN2 of a TDX 1.5 body", () => {
    const quote = parseTdxQuote(read(join(SHARED_TDX_DIR, "google-v5-sample/quote.dat")));
    expect(hex(quote.body.teeTcbSvn)).to.equal("0b010400000000000000000000000000");
    expect(hex(quote.body.teeTcbSvn2)).to.equal("0d010400000000000000000000000000");
    expect(quote.body.mrServiceTd?.length).to.equal(48);
  });

  it("rejects the SGX quote v3 with UnsupportedTee", () => {
    expect(codeOf(read(join(SHARED_TDX_DIR, "negative-sgx-quote-v3/sgx_quote.dat")))).to.equal(
      "UnsupportedTee",
    );
  });

  it("rejects unknown TEE types, SGX v5 bodies and foreign quoting enclaves with UnsupportedTee", () => {
    const withTee = Uint8Array.from(v4);
    withTee[4] = 0x82;
    expect(codeOf(withTee)).to.equal("UnsupportedTee");
    const sgxBody = Uint8Array.from(v5);
    sgxBody[48] = 1;
    expect(codeOf(sgxBody)).to.equal("UnsupportedTee");
    const vendor = Uint8Array.from(v4);
    vendor[12] = (vendor[12] ?? 0) ^ 0xff;
    expect(codeOf(vendor)).to.equal("UnsupportedTee");
  });

  it("every truncation of v4 and v5 quotes is EvidenceMalformed", () => {
    for (const quote of [v4, v5]) {
      const size = parseTdxQuote(quote).size;
      for (let length = 0; length < size; length++) {
        expect(codeOf(quote.subarray(0, length)), `length ${length}`).to.equal("EvidenceMalformed");
      }
    }
  });

  it("seeded random garbage is EvidenceMalformed", () => {
    let state = 0x2545f491;
    const next = (): number => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) >>> 24;
    for (let run = 0; run < 500; run++) {
      const garbage = Uint8Array.from({ length: 1 + ((run * 37) % 6000) }, next);
      expect(codeOf(garbage), `run ${run}`).to.equal("EvidenceMalformed");
    }
  });

  it("inconsistent inner lengths are EvidenceMalformed", () => {
    const view = (bytes: Uint8Array): DataView =>
      new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const longer = Uint8Array.from(v4);
    view(longer).setUint32(632, view(longer).getUint32(632, true) + 1, true);
    expect(codeOf(longer)).to.equal("EvidenceMalformed");
    const certType = Uint8Array.from(v4);
    view(certType).setUint16(636 + 128, 5, true);
    expect(codeOf(certType)).to.equal("EvidenceMalformed");
    const bodySize = Uint8Array.from(v5);
    view(bodySize).setUint32(50, 584, true);
    expect(codeOf(bodySize)).to.equal("EvidenceMalformed");
  });

  describe("properties (fast-check)", () => {
    const allowed = ["EvidenceMalformed", "UnsupportedTee", undefined];

    it("any bytes: a TdxQuote within bounds, or an EvidenceError, never another exception", () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 6000 }), (bytes) => {
          expect(allowed).to.include(codeOf(bytes));
        }),
        { numRuns: 2000 },
      );
    });

    it("real quotes with random bytes overwritten: parsed within bounds or an EvidenceError", () => {
      const mutation = fc.record({
        base: fc.constantFrom(v4, v5),
        edits: fc.array(fc.tuple(fc.nat({ max: 1200 }), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        }),
        cut: fc.option(fc.nat({ max: 5006 }), { nil: undefined }),
      });
      fc.assert(
        fc.property(mutation, ({ base, edits, cut }) => {
          const bytes = Uint8Array.from(base.subarray(0, cut ?? base.length));
          for (const [offset, value] of edits) if (offset < bytes.length) bytes[offset] = value;
          const code = codeOf(bytes);
          expect(allowed).to.include(code);
          if (code === undefined) {
            const quote = parseTdxQuote(bytes);
            expect(quote.size).to.be.at.most(bytes.length);
            expect([632, 702]).to.include(quote.signedRegion.length);
            expect(quote.signature.length).to.equal(64);
            expect(quote.attestationKey.length).to.equal(64);
            expect(quote.qeReport.raw.length).to.equal(384);
          }
        }),
        { numRuns: 3000 },
      );
    });

    it("appended padding never changes the parse", () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 4000 }), (padding) => {
          const padded = new Uint8Array(v4.length + padding.length);
          padded.set(v4);
          padded.set(padding, v4.length);
          const quote = parseTdxQuote(padded);
          expect(quote.size).to.equal(4936);
          expect(hex(quote.body.mrTd)).to.equal(hex(parseTdxQuote(v4).body.mrTd));
        }),
        { numRuns: 300 },
      );
    });
  });
});
