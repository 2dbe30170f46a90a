import { expect } from "chai";
import { decodeOpaqueClaims, devicePdiHex, parseOpaqueFields, switchPdiHex } from "./opaque-data.ts";

const tlv = (type: number, value: number[]): number[] => [
  type & 0xff,
  type >> 8,
  value.length & 0xff,
  value.length >> 8,
  ...value,
];

describe("opaque data: the PPCIe topology fields", () => {
  it("splits SWITCH_PDI / DEVICE_PDI (22) and SWITCH_GPU_PDIS (26) into 8-byte PDIs", () => {
    const pdiA = [1, 2, 3, 4, 5, 6, 7, 8];
    const pdiB = [9, 10, 11, 12, 13, 14, 15, 16];
    const claims = decodeOpaqueClaims(
      parseOpaqueFields(Uint8Array.from([...tlv(22, [...pdiA, ...pdiB]), ...tlv(26, pdiB)])),
    );
    expect(claims.pdis?.map(devicePdiHex)).to.deep.equal(["0102030405060708", "090a0b0c0d0e0f10"]);
    expect(claims.switchGpuPdis?.map(devicePdiHex)).to.deep.equal(["090a0b0c0d0e0f10"]);
  });

  it("reads a GPU's switch PDI little-endian, the switch's own as is (NVIDIA's PPCIe verifier)", () => {
    expect(switchPdiHex(Uint8Array.from([0x10, 0x43, 0xc1, 0x4e, 0x83, 0x59, 0x96, 0x63]))).to.equal(
      "639659834ec14310",
    );
    expect(devicePdiHex(Uint8Array.from([0x63, 0x96, 0x59, 0x83, 0x4e, 0xc1, 0x43, 0x10]))).to.equal(
      "639659834ec14310",
    );
  });

  it("refuses a PDI list that is not a whole number of 8-byte PDIs", () => {
    expect(() => decodeOpaqueClaims(parseOpaqueFields(Uint8Array.from(tlv(22, [1, 2, 3]))))).to.throw(
      "opaque data: SWITCH_PDI/DEVICE_PDI length 3 is not a multiple of 8",
    );
    expect(() =>
      decodeOpaqueClaims(parseOpaqueFields(Uint8Array.from(tlv(26, [1, 2, 3, 4, 5, 6, 7, 8, 9])))),
    ).to.throw("opaque data: SWITCH_GPU_PDIS length 9 is not a multiple of 8");
  });
});
