import { expect } from "chai";
import { makeFakeNvidiaPki } from "../../../../operator/src/attestation/simulated/nvidia-pki.ts";
import { parsePemCertificates } from "../../../../operator/src/crypto/pem.ts";
import {
  ATTESTATION_REPORT_STRUCT_SIZE,
  attestationReportRequest,
  certificateChainPem,
  cString,
  decodeAttestationReport,
  decodeGpuCertificate,
  GPU_CERTIFICATE_STRUCT_SIZE,
} from "./structs.ts";

/** Struct bytes written field by field, as a C compiler lays them out. */
function reportStruct(fields: {
  cec: number;
  size: number;
  cecSize: number;
  nonce: number;
  report: number[];
}): Uint8Array {
  const bytes = new Uint8Array(12332);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, fields.cec, true);
  view.setUint32(4, fields.size, true);
  view.setUint32(8, fields.cecSize, true);
  bytes.fill(fields.nonce, 12, 44);
  bytes.set(fields.report, 44);
  bytes.set([0xce, 0xce], 44 + 0x2000);
  return bytes;
}

describe("NVML confidential-computing structs", () => {
  it("has nvml.h's sizes: 12 + 32 + 0x2000 + 0x1000 and 8 + 0x1000 + 0x1400 bytes", () => {
    expect(ATTESTATION_REPORT_STRUCT_SIZE).to.equal(12332);
    expect(GPU_CERTIFICATE_STRUCT_SIZE).to.equal(9224);
  });

  it("puts the nonce, the only input, at offset 12 of a zeroed report struct", () => {
    const request = attestationReportRequest(new Uint8Array(32).fill(0xab));
    expect(request.length).to.equal(12332);
    expect([...request.subarray(0, 12)]).to.deep.equal(new Array<number>(12).fill(0));
    expect([...request.subarray(12, 44)]).to.deep.equal(new Array<number>(32).fill(0xab));
    expect(request.subarray(44).every((b) => b === 0)).to.equal(true);
    expect(() => attestationReportRequest(new Uint8Array(16))).to.throw("must be 32 bytes");
  });

  it("decodes the report by its declared size, and the CEC report only when present", () => {
    const plain = decodeAttestationReport(
      reportStruct({ cec: 0, size: 3, cecSize: 2, nonce: 7, report: [1, 2, 3, 4] }),
    );
    expect(plain).to.deep.equal({ nonce: new Uint8Array(32).fill(7), report: Uint8Array.from([1, 2, 3]) });
    const withCec = decodeAttestationReport(
      reportStruct({ cec: 1, size: 1, cecSize: 2, nonce: 0, report: [9] }),
    );
    expect(withCec.cecReport).to.deep.equal(Uint8Array.from([0xce, 0xce]));
  });

  it("rejects sizes beyond their fields, an empty report and a struct of the wrong size", () => {
    expect(() =>
      decodeAttestationReport(reportStruct({ cec: 0, size: 0x2001, cecSize: 0, nonce: 0, report: [] })),
    ).to.throw("exceeds its 8192-byte field");
    expect(() =>
      decodeAttestationReport(reportStruct({ cec: 0, size: 0, cecSize: 0, nonce: 0, report: [] })),
    ).to.throw("empty attestation report");
    expect(() => decodeAttestationReport(new Uint8Array(100))).to.throw("not 12332");
    expect(() => decodeGpuCertificate(new Uint8Array(100))).to.throw("not 9224");
  });

  it("decodes both certificate chains of the certificate struct", () => {
    const bytes = new Uint8Array(9224);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, 2, true);
    view.setUint32(4, 3, true);
    bytes.set([0xc1, 0xc1], 8);
    bytes.set([0xc2, 0xc2, 0xc2], 8 + 0x1000);
    expect(decodeGpuCertificate(bytes)).to.deep.equal({
      certChain: Uint8Array.from([0xc1, 0xc1]),
      attestationCertChain: Uint8Array.from([0xc2, 0xc2, 0xc2]),
    });
    view.setUint32(4, 0x1401, true);
    expect(() => decodeGpuCertificate(bytes)).to.throw("exceeds its 5120-byte field");
  });

  it("turns the attestation chain into PEM, whether the driver gives PEM text or concatenated DER", () => {
    const chainPem = makeFakeNvidiaPki().chainPem;
    const ders = parsePemCertificates(chainPem, "test");
    const fromPem = certificateChainPem(Buffer.from(`${chainPem}\0\0`, "latin1"));
    const fromDer = certificateChainPem(Buffer.concat([...ders, Buffer.alloc(4)]));
    expect(parsePemCertificates(fromPem, "x")).to.deep.equal(ders);
    expect(fromDer).to.equal(fromPem);
    expect(() => certificateChainPem(Uint8Array.from([0x31, 0x00]))).to.throw("no DER SEQUENCE");
    expect(() => certificateChainPem(Uint8Array.from([0x30, 0x82, 0x10, 0x00, 1]))).to.throw("truncated");
    expect(() => certificateChainPem(new Uint8Array(4))).to.throw("empty");
  });

  it("reads NUL-terminated strings from fixed buffers", () => {
    expect(cString(Buffer.from("550.90.07\0garbage"))).to.equal("550.90.07");
    expect(cString(Buffer.from("96.00.9F.00.01"))).to.equal("96.00.9F.00.01");
  });
});
