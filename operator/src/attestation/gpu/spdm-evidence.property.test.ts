import { expect } from "chai";
import fc from "fast-check";
import { SHARED_GPU_ITEMS, sharedGpuEntry } from "../../../test/fixtures/nvidia/shared-items.ts";
import { encodeEvidence, type BlockSpec, type OpaqueSpec } from "../simulated/spdm-evidence.ts";
import { EvidenceError } from "../types.ts";
import { parseSpdmEvidence } from "./spdm-evidence.ts";

/** Parsing either succeeds or throws an EvidenceMalformed EvidenceError: nothing else escapes. */
function parsesOrIsMalformed(bytes: Uint8Array): boolean {
  try {
    parseSpdmEvidence(bytes);
    return true;
  } catch (error) {
    return error instanceof EvidenceError && error.code === "EvidenceMalformed";
  }
}

const samples = SHARED_GPU_ITEMS.map((item) =>
  Uint8Array.from(Buffer.from(sharedGpuEntry(item).evidence, "base64")),
);

const blocks: fc.Arbitrary<BlockSpec[]> = fc
  .uniqueArray(fc.integer({ min: 1, max: 254 }), { maxLength: 40 })
  .chain((indexes) =>
    fc.tuple(
      ...indexes.map((index) =>
        fc.record({
          index: fc.constant(index),
          valueType: fc.integer({ min: 0, max: 255 }),
          value: fc.uint8Array({ maxLength: 64 }),
        }),
      ),
    ),
  );

const opaqueFields: fc.Arbitrary<OpaqueSpec[]> = fc
  .uniqueArray(fc.integer({ min: 0, max: 0xffff }), { maxLength: 12 })
  .chain((types) =>
    fc.tuple(
      ...types
        // Types whose values the parser validates (versions, FWID, PDI lists of whole 8-byte PDIs) are left out:
        // arbitrary bytes there are refused, not round-tripped (their own tests cover them).
        .filter((type) => ![3, 6, 12, 15, 17, 18, 20, 22, 26].includes(type))
        .map((type) => fc.record({ type: fc.constant(type), value: fc.uint8Array({ maxLength: 40 }) })),
    ),
  );

describe("SPDM evidence parser (properties)", () => {
  it("never throws anything but EvidenceMalformed on arbitrary bytes, bare or after a valid request and response header", () => {
    const header = (samples[0] ?? new Uint8Array()).subarray(0, 37 + 8);
    const prefixes = [new Uint8Array(), header.subarray(0, 37), header];
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 }), fc.uint8Array({ maxLength: 600 }), (p, tail) =>
        parsesOrIsMalformed(Buffer.concat([prefixes[p] ?? new Uint8Array(), tail])),
      ),
      { numRuns: 3000 },
    );
  });

  it("never throws anything but EvidenceMalformed on mutated, truncated or extended real evidence", () => {
    const mutation = fc.record({
      sample: fc.integer({ min: 0, max: samples.length - 1 }),
      edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
      cut: fc.option(fc.nat(), { nil: undefined }),
      tail: fc.uint8Array({ maxLength: 4 }),
    });
    fc.assert(
      fc.property(mutation, ({ sample, edits, cut, tail }) => {
        const original = samples[sample] ?? new Uint8Array();
        const bytes = Uint8Array.from(original);
        for (const [at, value] of edits) bytes[at % bytes.length] = value;
        const cutAt = cut === undefined ? bytes.length : cut % (bytes.length + 1);
        return parsesOrIsMalformed(Buffer.concat([bytes.subarray(0, cutAt), tail]));
      }),
      { numRuns: 3000 },
    );
  });

  it("refuses a request for some blocks only, or for another slot than 0", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xfe }), fc.integer({ min: 1, max: 15 }), (param2, slot) => {
        const some = {
          nonce: new Uint8Array(32),
          responderNonce: new Uint8Array(32),
          param2,
          blocks: [],
          opaque: [],
        };
        expect(() => parseSpdmEvidence(encodeEvidence(some))).to.throw("does not ask for all blocks");
        const other = { ...some, param2: 0xff, slotId: slot };
        expect(() => parseSpdmEvidence(encodeEvidence(other))).to.throw("is not slot 0");
      }),
      { numRuns: 200 },
    );
  });

  it("round-trips every well-formed request/response: blocks, nonces and opaque fields come back as encoded", () => {
    const spec = fc.record({
      nonce: fc.uint8Array({ minLength: 32, maxLength: 32 }),
      responderNonce: fc.uint8Array({ minLength: 32, maxLength: 32 }),
      // All blocks from slot 0 (the upper SlotID bits are reserved): what a verifiable request asks for.
      param2: fc.constant(0xff),
      slotId: fc.integer({ min: 0, max: 15 }).map((high) => high << 4),
      blocks,
      opaque: opaqueFields,
    });
    fc.assert(
      fc.property(spec, (s) => {
        const parsed = parseSpdmEvidence(encodeEvidence(s));
        expect(Buffer.from(parsed.request.nonce).equals(Buffer.from(s.nonce))).to.equal(true);
        expect(Buffer.from(parsed.response.nonce).equals(Buffer.from(s.responderNonce))).to.equal(true);
        expect([parsed.request.param2, parsed.request.slotId]).to.deep.equal([s.param2, s.slotId]);
        expect(
          parsed.response.blocks.map((b) => [b.index, b.valueType, Buffer.from(b.value).toString("hex")]),
        ).to.deep.equal(s.blocks.map((b) => [b.index, b.valueType, Buffer.from(b.value).toString("hex")]));
        expect(
          parsed.response.opaqueFields.map((f) => [f.type, Buffer.from(f.value).toString("hex")]),
        ).to.deep.equal(s.opaque.map((f) => [f.type, Buffer.from(f.value).toString("hex")]));
        expect(parsed.trailingBytes).to.equal(0);
      }),
      { numRuns: 500 },
    );
  });
});
