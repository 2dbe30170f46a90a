import { expect } from "chai";
import { decodeTcbVersion, productFromCpuId, productFromName, tcbComponents } from "./tcb.ts";

describe("SNP TCB and product decoding", () => {
  const cases: [string, { family: number; model: number }, string | undefined][] = [
    ["Milan model 0x01", { family: 0x19, model: 0x01 }, "Milan"],
    ["Milan model 0x0F", { family: 0x19, model: 0x0f }, "Milan"],
    ["Genoa model 0x11", { family: 0x19, model: 0x11 }, "Genoa"],
    ["Genoa (Bergamo/Siena) model 0xA0", { family: 0x19, model: 0xa0 }, "Genoa"],
    ["a family 0x19 client part", { family: 0x19, model: 0x21 }, undefined],
    ["Turin family 0x1A", { family: 0x1a, model: 0x02 }, "Turin"],
    ["an unknown family", { family: 0x17, model: 0x31 }, undefined],
  ];
  for (const [name, cpu, product] of cases) {
    it(`maps ${name} to ${product ?? "no product"}`, () => {
      expect(productFromCpuId({ ...cpu, stepping: 0 })).to.equal(product);
    });
  }

  it("maps certificate product names to product lines", () => {
    expect(productFromName("Milan-B0")).to.equal("Milan");
    expect(productFromName("Genoa")).to.equal("Genoa");
    expect(productFromName("Turin")).to.equal("Turin");
    expect(productFromName("Rome")).to.equal(undefined);
    expect(productFromName("")).to.equal(undefined);
  });

  const layouts: { name: string; bytes: number[]; turin: boolean; want: Record<string, unknown> }[] = [
    {
      name: "the Milan/Genoa layout: bootloader, TEE, SNP and microcode in bytes 0, 1, 6, 7",
      bytes: [2, 0, 0, 0, 0, 0, 5, 68],
      turin: false,
      want: { raw: "4405000000000002", bootloader: 2, tee: 0, snp: 5, microcode: 68 },
    },
    {
      name: "the Turin layout: FMC, bootloader, TEE, SNP in bytes 0-3 and microcode in byte 7",
      bytes: [0xff, 1, 2, 3, 4, 5, 6, 9],
      turin: true,
      want: { raw: "09060504030201ff", fmc: 0xff, bootloader: 1, tee: 2, snp: 3, microcode: 9 },
    },
  ];
  for (const { name, bytes, turin, want } of layouts) {
    it(`decodes ${name}`, () => {
      expect(decodeTcbVersion(Uint8Array.from(bytes), 0, turin)).to.deep.equal(want);
    });
  }

  it("names the FMC a TCB component on Turin only", () => {
    expect(tcbComponents(true)).to.include("fmc");
    expect(tcbComponents(false)).to.not.include("fmc");
  });
});
