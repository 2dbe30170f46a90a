import { expect } from "chai";
import { createHash, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { makeFakeNvidiaPki } from "../simulated/nvidia-pki.ts";
import {
  nvidiaItemDir,
  SHARED_GPU_ITEMS,
  SHARED_NVIDIA_DIR,
  sharedGpuEntry,
} from "../../../test/fixtures/nvidia/shared-items.ts";
import { EvidenceError } from "../types.ts";
import { checkValidity, DeviceChainVerifier, PINNED_NVIDIA_ANCHORS } from "./device-chain.ts";
import { NVIDIA_DEVICE_IDENTITY_CA, NVIDIA_DEVICE_IDENTITY_CA_SHA256 } from "./nvidia-roots.ts";

const NOW = new Date("2025-06-11T00:31:00Z");
const hex = (bytes: Uint8Array | undefined): string | undefined =>
  bytes === undefined ? undefined : Buffer.from(bytes).toString("hex");

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    expect(error).to.be.instanceOf(EvidenceError);
    return (error as EvidenceError).code;
  }
}

describe("NVIDIA device certificate chains", () => {
  const pinned = new DeviceChainVerifier(PINNED_NVIDIA_ANCHORS);

  it("pins the NVIDIA Device Identity CA the MANIFEST describes (both shared copies)", () => {
    const der = new X509Certificate(NVIDIA_DEVICE_IDENTITY_CA).raw;
    expect(createHash("sha256").update(der).digest("hex")).to.equal(NVIDIA_DEVICE_IDENTITY_CA_SHA256);
    for (const copy of ["nvidia_device_identity_ca.pem", "nvidia_device_identity_ca.trustee-copy.pem"]) {
      const shared = new X509Certificate(readFileSync(`${SHARED_NVIDIA_DIR}_common/${copy}`));
      expect(shared.raw.equals(der), copy).to.equal(true);
    }
  });

  for (const item of SHARED_GPU_ITEMS) {
    it(`${item.item}: chain verifies to the pinned root; model, identity and FWID come from the leaf`, () => {
      const device = pinned.verify(sharedGpuEntry(item).certChain, NOW);
      expect(device.kind).to.equal(item.deviceType);
      expect(device.arch).to.equal("HOPPER");
      expect(device.hwmodel).to.equal(item.facts.hwmodel);
      if (item.facts.ueid !== undefined) expect(device.ueid).to.equal(item.facts.ueid);
      expect(device.chain).to.have.length(5);
      expect(device.chain.at(-1)?.raw.equals(new X509Certificate(NVIDIA_DEVICE_IDENTITY_CA).raw)).to.equal(
        true,
      );
      if (item.facts.fwid !== undefined) expect(hex(device.fwid)).to.equal(item.facts.fwid);
    });
  }

  it("gonvtrust-hopper-545-fullrim: the leaf has an FWID although the 545 evidence reports none", () => {
    const item = SHARED_GPU_ITEMS.find((i) => i.item === "gonvtrust-hopper-545-fullrim");
    const device = pinned.verify(item === undefined ? "" : sharedGpuEntry(item).certChain, NOW);
    expect(hex(device.fwid)).to.match(/^80e48f4e/);
  });

  it("invalidCertChain.pem (BROM missing) is ChainInvalid", () => {
    const pem = readFileSync(
      `${nvidiaItemDir("gonvtrust-hopper-545-fullrim")}/negative/invalidCertChain.pem`,
      "utf8",
    );
    expect(codeOf(() => pinned.verify(pem, NOW))).to.equal("ChainInvalid");
  });

  it("a chain from another root (fake PKI with NVIDIA's names) is ChainInvalid; trusting that root accepts it", () => {
    const fake = makeFakeNvidiaPki({ fwid: new Uint8Array(48).fill(7) });
    expect(codeOf(() => pinned.verify(fake.chainPem, NOW))).to.equal("ChainInvalid");
    const device = new DeviceChainVerifier(fake.anchors).verify(fake.chainPem, NOW);
    expect(hex(device.fwid)).to.equal("07".repeat(48));
  });

  it("a real chain whose root is swapped for a look-alike is still anchored in the pinned root only", () => {
    const item = SHARED_GPU_ITEMS[0];
    const real = item === undefined ? "" : sharedGpuEntry(item).certChain;
    const fakeRoot = makeFakeNvidiaPki().root.certificate.toString();
    const blocks = real.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n?/g) ?? [];
    const swapped = [...blocks.slice(0, -1), fakeRoot].join("\n");
    expect(pinned.verify(swapped, NOW).chain.at(-1)?.subject).to.include("NVIDIA Device Identity CA");
    const fakeOnly = new DeviceChainVerifier({ roots: [fakeRoot] });
    expect(codeOf(() => fakeOnly.verify(swapped, NOW))).to.equal("ChainInvalid");
  });

  it("without a chain cache, a CA link verified before is remembered by fingerprint only: a re-signed copy fails", () => {
    const item = SHARED_GPU_ITEMS[0];
    const real = item === undefined ? "" : sharedGpuEntry(item).certChain;
    const uncached = new DeviceChainVerifier(PINNED_NVIDIA_ANCHORS, 0);
    uncached.verify(real, NOW);
    const blocks = real.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n?/g) ?? [];
    const der = Buffer.from((blocks[1] ?? "").replace(/-----[A-Z ]+-----|\s/g, ""), "base64");
    // The last byte lies in the signature: same names and key, a signature that does not verify.
    der[der.length - 1] = (der[der.length - 1] ?? 0) ^ 0x01;
    const pem = `-----BEGIN CERTIFICATE-----\n${der.toString("base64")}\n-----END CERTIFICATE-----\n`;
    const resigned = [blocks[0], pem, ...blocks.slice(2)].join("");
    expect(codeOf(() => uncached.verify(resigned, NOW))).to.equal("ChainInvalid");
    expect(codeOf(() => uncached.verify(real, NOW))).to.equal(undefined);
  });

  it("validity is checked as of `now` on every use, cached or not", () => {
    const fake = makeFakeNvidiaPki({
      leafValidity: [new Date("2024-01-01T00:00:00Z"), new Date("2030-01-01T00:00:00Z")],
    });
    const chains = new DeviceChainVerifier(fake.anchors);
    expect(codeOf(() => chains.verify(fake.chainPem, new Date("2029-12-31T23:59:59Z")))).to.equal(undefined);
    expect(codeOf(() => chains.verify(fake.chainPem, new Date("2030-01-01T00:00:01Z")))).to.equal(
      "CertificateExpired",
    );
    expect(codeOf(() => chains.verify(fake.chainPem, new Date("2023-12-31T00:00:00Z")))).to.equal(
      "CertificateExpired",
    );
    expect(chains.stats).to.deep.equal({ hits: 2, misses: 1 });
  });

  it("validity windows are read per certificate: another certificate's dates are never used", () => {
    const until2030 = makeFakeNvidiaPki({
      leafValidity: [new Date("2024-01-01T00:00:00Z"), new Date("2030-01-01T00:00:00Z")],
    });
    const until2026 = makeFakeNvidiaPki({
      leafValidity: [new Date("2024-01-01T00:00:00Z"), new Date("2026-01-01T00:00:00Z")],
    });
    const leaf = (pem: string) =>
      new X509Certificate(pem.slice(0, pem.indexOf("-----END CERTIFICATE-----") + 25));
    const long = leaf(until2030.chainPem);
    const short = leaf(until2026.chainPem);
    const at2027 = new Date("2027-01-01T00:00:00Z");
    const cases: [string, X509Certificate, Date, string | undefined][] = [
      ["valid leaf, first use", long, at2027, undefined],
      ["another leaf with an earlier end, after the first was read", short, at2027, "CertificateExpired"],
      ["the first leaf again", long, at2027, undefined],
      ["the first leaf after its end", long, new Date("2030-01-01T00:00:01Z"), "CertificateExpired"],
      ["the first leaf before its start", long, new Date("2023-12-31T00:00:00Z"), "CertificateExpired"],
    ];
    for (const [name, cert, now, code] of cases) {
      expect(
        codeOf(() => {
          checkValidity([cert], now);
        }),
        name,
      ).to.equal(code);
    }
    expect(() => {
      checkValidity([short], at2027);
    }).to.throw(/expired at 2026-01-01T00:00:00.000Z/);
  });

  it("the cache is keyed by the exact chain text: a verified chain vouches for no other text", () => {
    const fake = makeFakeNvidiaPki();
    const foreign = makeFakeNvidiaPki();
    const chains = new DeviceChainVerifier(fake.anchors);
    expect(codeOf(() => chains.verify(fake.chainPem, NOW))).to.equal(undefined);
    // A chain from another PKI is verified afresh, fails, and the failure is not cached either.
    expect(codeOf(() => chains.verify(foreign.chainPem, NOW))).to.equal("ChainInvalid");
    expect(codeOf(() => chains.verify(foreign.chainPem, NOW))).to.equal("ChainInvalid");
    // The same certificates in a different text are a separate entry, verified in full.
    expect(codeOf(() => chains.verify(`\n${fake.chainPem}`, NOW))).to.equal(undefined);
    expect(codeOf(() => chains.verify(fake.chainPem, NOW))).to.equal(undefined);
    expect(chains.stats).to.deep.equal({ hits: 1, misses: 4 });
  });

  it("a leaf with an unknown critical extension is ChainInvalid", () => {
    const fake = makeFakeNvidiaPki({ criticalExtension: "1.3.6.1.4.1.99999.1" });
    expect(codeOf(() => new DeviceChainVerifier(fake.anchors).verify(fake.chainPem, NOW))).to.equal(
      "ChainInvalid",
    );
  });

  it("reads the FWID from the Blackwell DICE TcbInfo layout (fwids [6] followed by more fields)", () => {
    const fwid = new Uint8Array(48).fill(0x5a);
    const fake = makeFakeNvidiaPki({ fwid, fwidLayout: "dice", leafName: "GB100 A01 GSP FMC LF" });
    const device = new DeviceChainVerifier(fake.anchors).verify(fake.chainPem, NOW);
    expect(hex(device.fwid)).to.equal("5a".repeat(48));
    expect(device.arch).to.equal("BLACKWELL");
  });

  it("takes the identity from a UEID extension when the leaf has one, else the serial in decimal", () => {
    const withUeid = makeFakeNvidiaPki({ ueid: Buffer.from("0102a0ff", "hex") });
    expect(new DeviceChainVerifier(withUeid.anchors).verify(withUeid.chainPem, NOW).ueid).to.equal(
      "0102a0ff",
    );
    const bySerial = makeFakeNvidiaPki({ serial: 123456789 });
    expect(new DeviceChainVerifier(bySerial.anchors).verify(bySerial.chainPem, NOW).ueid).to.equal(
      "123456789",
    );
  });

  it("text without a certificate is EvidenceMalformed", () => {
    expect(codeOf(() => pinned.verify("not a PEM", NOW))).to.equal("EvidenceMalformed");
    const garbage = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    expect(codeOf(() => pinned.verify(garbage, NOW))).to.equal("EvidenceMalformed");
  });
});
