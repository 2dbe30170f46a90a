import { expect } from "chai";
import { readFileSync } from "node:fs";
import {
  nvidiaItemDir,
  SHARED_GPU_ITEMS,
  sharedGpuEntry,
} from "../../../test/fixtures/nvidia/shared-items.ts";
import { encodeEvidence, opaque } from "../simulated/spdm-evidence.ts";
import { EvidenceError } from "../types.ts";
import { opaqueFieldName } from "./opaque-data.ts";
import { parseSpdmEvidence, REQUEST_LENGTH, SIGNATURE_LENGTH, type SpdmEvidence } from "./spdm-evidence.ts";

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");
const evidenceOf = (item: string): Uint8Array => {
  const found = SHARED_GPU_ITEMS.find((i) => i.item === item);
  if (found === undefined) throw new Error(`no item ${item}`);
  return Buffer.from(sharedGpuEntry(found).evidence, "base64");
};

function expectMalformed(bytes: Uint8Array, message?: RegExp): void {
  let thrown: unknown;
  try {
    parseSpdmEvidence(bytes);
  } catch (error) {
    thrown = error;
  }
  expect(thrown, "parse should fail").to.be.instanceOf(EvidenceError);
  expect((thrown as EvidenceError).code).to.equal("EvidenceMalformed");
  if (message !== undefined) expect((thrown as EvidenceError).message).to.match(message);
}

describe("SPDM GET_MEASUREMENTS evidence parser", () => {
  for (const { item, facts } of SHARED_GPU_ITEMS) {
    it(`${item}: reproduces the MANIFEST facts`, () => {
      const bytes = evidenceOf(item);
      expect(bytes.length).to.equal(facts.bytes);
      const spdm = parseSpdmEvidence(bytes);
      expect(hex(spdm.request.nonce)).to.equal(facts.nonce);
      expect([
        spdm.request.version,
        spdm.request.param1,
        spdm.request.param2,
        spdm.request.slotId,
      ]).to.deep.equal([0x11, 0x01, 0xff, 0]);
      expect(spdm.response.blocks.map((b) => b.index)).to.deep.equal(
        Array.from({ length: facts.blocks }, (_, i) => i + 1),
      );
      expect(spdm.response.blocks.every((b) => b.value.length === 48 && b.valueType === 1)).to.equal(true);
      expect(spdm.opaque.driverVersion).to.equal(facts.driverVersion);
      expect(spdm.opaque.vbiosVersion).to.equal(facts.vbiosVersion);
      expect(spdm.opaque.fwid === undefined ? undefined : hex(spdm.opaque.fwid)).to.equal(facts.fwid);
      expect(spdm.opaque.project).to.equal(facts.project);
      expect(spdm.opaque.projectSku).to.equal(facts.projectSku);
      expect(spdm.opaque.chipSku).to.equal(facts.chipSku);
      expect(spdm.signedBytes.length).to.equal(bytes.length - SIGNATURE_LENGTH);
      expect(spdm.trailingBytes).to.equal(0);
    });
  }

  describe("sdk-hopper-580-159 expected/ parses (attestation-sdk spdm_req_test / spdm_resp_test)", () => {
    const expected = (file: string): Record<string, unknown> =>
      JSON.parse(readFileSync(`${nvidiaItemDir("sdk-hopper-580-159")}/expected/${file}`, "utf8")) as Record<
        string,
        unknown
      >;
    const byte = (n: number): string => `0x${n.toString(16).padStart(2, "0")}`;

    it("the request equals spdm_req_parsed_output.json", () => {
      const { request } = parseSpdmEvidence(evidenceOf("sdk-hopper-580-159"));
      expect({
        SPDMVersion: byte(request.version),
        RequestResponseCode: "0xe0",
        Param1: byte(request.param1),
        Param2: byte(request.param2),
        Nonce: `0x${hex(request.nonce)}`,
        SlotIDParam: byte(request.slotId),
      }).to.deep.equal(expected("spdm_req_parsed_output.json"));
    });

    it("the response equals spdm_parsed_output.json (every block and opaque field it lists)", () => {
      const { response } = parseSpdmEvidence(evidenceOf("sdk-hopper-580-159"));
      const json = expected("spdm_parsed_output.json");
      expect(json["Nonce"]).to.equal(`0x${hex(response.nonce)}`);
      expect(json["Signature"]).to.equal(`0x${hex(response.signature)}`);
      expect(json["NumberOfBlocks"]).to.equal(response.blocks.length);
      expect(json["OpaqueLength"]).to.equal(response.opaqueData.length);
      const record = json["MeasurementRecord"] as {
        MeasurementBlocks: Record<string, Record<string, unknown>>;
      };
      for (const block of response.blocks) {
        expect(record.MeasurementBlocks[String(block.index)]).to.deep.equal({
          DMTFSpecMeasurementValueType: block.valueType,
          DMTFSpecMeasurementValueSize: block.value.length,
          DMTFSpecMeasurementValue: `0x${hex(block.value)}`,
        });
      }
      const fields = (json["OpaqueData"] as { OpaqueDataField: Record<string, unknown> }).OpaqueDataField;
      const ours = new Map(
        response.opaqueFields.map((f) => [`OPAQUE_FIELD_ID_${opaqueFieldName(f.type)}`, f]),
      );
      for (const [name, value] of Object.entries(fields)) {
        const field = ours.get(name);
        if (name === "OPAQUE_FIELD_ID_MSRSCNT") {
          const view = Buffer.from(field?.value ?? []);
          expect(Array.from({ length: view.length / 4 }, (_, i) => view.readUInt32LE(i * 4))).to.deep.equal(
            value,
          );
        } else {
          expect(`0x${hex(field?.value ?? new Uint8Array())}`, name).to.equal(value);
        }
      }
      // The SDK's JSON predates OPAQUE_DATA_VERSION (34) and FEATURE_FLAG (36).
      const unlisted = [...ours.keys()].filter((n) => !(n in fields));
      expect(unlisted).to.deep.equal(["OPAQUE_FIELD_ID_OPAQUE_DATA_VERSION", "OPAQUE_FIELD_ID_FEATURE_FLAG"]);
    });

    it("spdm_parsed_output.txt is the parse of the nvtrust-hopper-550 evidence, line for line", () => {
      const { response } = parseSpdmEvidence(evidenceOf("nvtrust-hopper-550"));
      const text = readFileSync(
        `${nvidiaItemDir("sdk-hopper-580-159")}/expected/spdm_parsed_output.txt`,
        "utf8",
      );
      const lines = new Map(
        text
          .trim()
          .split("\n")
          .map(
            (line) => line.replace("SpdmMeasurementResponseMessage.", "").split(" = ") as [string, string],
          ),
      );
      expect(lines.get("Nonce")).to.equal(`0x${hex(response.nonce)}`);
      expect(lines.get("Signature")).to.equal(`0x${hex(response.signature)}`);
      expect(lines.get("OpaqueLength")).to.equal(String(response.opaqueData.length));
      for (const block of response.blocks) {
        const key = `MeasurementRecord.MeasurementBlocks[${block.index}].DMTFSpecMeasurementValue`;
        expect(lines.get(key)).to.equal(`0x${hex(block.value)}`);
      }
      for (const field of response.opaqueFields) {
        const key = `OpaqueData.OpaqueDataField['OPAQUE_FIELD_ID_${opaqueFieldName(field.type)}']`;
        if (field.type !== 12) expect(lines.get(key), key).to.equal(`0x${hex(field.value)}`);
      }
    });
  });

  describe("malformed evidence is EvidenceMalformed", () => {
    const valid = evidenceOf("nvtrust-hopper-550");

    it("tolerates exactly one trailing byte after the signature, outside the signed region", () => {
      const withOne = Buffer.concat([valid, Buffer.from([0x0a])]);
      const parsed: SpdmEvidence = parseSpdmEvidence(withOne);
      expect(parsed.trailingBytes).to.equal(1);
      expect(hex(parsed.signedBytes)).to.equal(hex(valid.subarray(0, valid.length - SIGNATURE_LENGTH)));
      expectMalformed(Buffer.concat([valid, Buffer.from([0, 0])]), /2 bytes follow the signature/);
    });

    it("every truncation", () => {
      for (let length = 0; length < valid.length; length++) expectMalformed(valid.subarray(0, length));
    });

    const mutations: [string, (b: Buffer) => void, RegExp][] = [
      ["an SPDM 1.2 request", (b) => (b[0] = 0x12), /not 1\.1/],
      ["a request that is not GET_MEASUREMENTS", (b) => (b[1] = 0xe1), /not GET_MEASUREMENTS/],
      ["a request without the signature bit", (b) => (b[2] = 0x00), /does not ask for a signature/],
      [
        "a response version other than the request's",
        (b) => (b[REQUEST_LENGTH] = 0x10),
        /differs from the request/,
      ],
      ["a response code other than MEASUREMENTS", (b) => (b[REQUEST_LENGTH + 1] = 0x61), /not MEASUREMENTS/],
      [
        "a NumberOfBlocks that disagrees with the record",
        (b) => (b[REQUEST_LENGTH + 4] = 63),
        /holds 64 blocks/,
      ],
      ["a block index 0", (b) => (b[REQUEST_LENGTH + 8] = 0), /reserved/],
      ["a repeated block index", (b) => (b[REQUEST_LENGTH + 8 + 55] = 1), /appears twice/],
      ["a non-DMTF block", (b) => (b[REQUEST_LENGTH + 9] = 0x02), /not DMTF/],
      ["a DMTF value size that does not fit the block", (b) => (b[REQUEST_LENGTH + 13] = 47), /does not fit/],
      [
        "a block larger than the record",
        (b) => b.writeUInt16LE(0xffff, REQUEST_LENGTH + 10),
        /block 1 needs 65535 bytes/,
      ],
      [
        "a block too short for its DMTF header",
        (b) => b.writeUInt16LE(2, REQUEST_LENGTH + 10),
        /has no DMTF value header/,
      ],
      [
        "a record that ends inside a block",
        (b) => b.writeUIntLE(b.readUIntLE(REQUEST_LENGTH + 5, 3) - 2, REQUEST_LENGTH + 5, 3),
        /block 64 needs 51 bytes at offset \d+, 49 left/,
      ],
      [
        "a record that ends inside a block header",
        (b) => b.writeUIntLE(b.readUIntLE(REQUEST_LENGTH + 5, 3) - 53, REQUEST_LENGTH + 5, 3),
        /block header needs 4 bytes at offset \d+, 2 left/,
      ],
    ];
    for (const [name, mutate, message] of mutations) {
      it(name, () => {
        const bytes = Buffer.from(valid);
        mutate(bytes);
        expectMalformed(bytes, message);
      });
    }

    const opaqueCases: [string, Parameters<typeof encodeEvidence>[0]["opaque"], RegExp][] = [
      ["a repeated opaque type", [opaque.driverVersion("1"), opaque.driverVersion("2")], /appears twice/],
      ["a 47-byte FWID", [opaque.fwid(new Uint8Array(47))], /FWID has 47 bytes/],
      [
        "a non-ASCII driver version",
        [{ type: 3, value: new Uint8Array([0x35, 0x01, 0]) }],
        /not printable ASCII/,
      ],
      ["an MSRSCNT that is not u32s", [{ type: 12, value: new Uint8Array(6) }], /multiple of 4/],
    ];
    for (const [name, fields, message] of opaqueCases) {
      it(name, () => {
        expectMalformed(encodeEvidence({ opaque: fields ?? [] }), message);
      });
    }

    it("an opaque TLV that overruns the opaque data", () => {
      const bytes = encodeEvidence({ opaque: [opaque.driverVersion("550.90.07")] });
      const opaqueStart = bytes.length - SIGNATURE_LENGTH - 14;
      bytes[opaqueStart + 2] = 0xff;
      expectMalformed(bytes, /truncated: opaque field DRIVER_VERSION/);
    });
  });
});
