import { expect } from "chai";
import { readFileSync } from "node:fs";
import { makeFakeAmdPki } from "../simulated/amd-pki.ts";
import { localFixture, sharedFile, sharedItemDir } from "../../../test/fixtures/snp/shared-items.ts";
import { EvidenceError, type ErrorCode } from "../types.ts";
import { AMD_INTERMEDIATES } from "./amd-intermediates.ts";
import { AMD_ARKS } from "./amd-roots.ts";
import { EndorsementVerifier, sha256Hex } from "./endorsement-chain.ts";
import { parsePemCertificates } from "../../crypto/pem.ts";
import { PINNED_AMD_ANCHORS } from "./verifier.ts";

function expectCode(run: () => unknown, code: ErrorCode, pattern?: RegExp): void {
  try {
    run();
  } catch (error) {
    expect(error).to.be.instanceOf(EvidenceError);
    expect((error as EvidenceError).code, (error as Error).message).to.equal(code);
    if (pattern !== undefined) expect((error as Error).message).to.match(pattern);
    return;
  }
  expect.fail(`expected ${code}`);
}

const at = (iso: string): Date => new Date(iso);
const pems = (pem: string): Uint8Array[] => parsePemCertificates(pem, "test");

describe("EndorsementVerifier", () => {
  it("pins the ARKs whose SHA-256 the _common manifest lists", () => {
    const digest = (pem: string): string => sha256Hex(pems(pem)[0] ?? new Uint8Array());
    expect(digest(AMD_ARKS.Milan)).to.match(/^69d063b45344d26a/);
    expect(digest(AMD_ARKS.Genoa)).to.match(/^4c6598d19c18719c/);
    expect(digest(AMD_ARKS.Turin)).to.equal(
      "1f084161a44bb6d93778a904877d4819cafa5d05ef4193b2ded9dd9c73dd3f6a",
    );
    expect(AMD_INTERMEDIATES.map((pem) => digest(pem).slice(0, 16))).to.have.members([
      "67d303bd3905fd38",
      "c5e081f59b7efab1",
      "5464738c1546aed5",
      "197e610743a917d6",
      "5b77ef5fe7a7a004",
      "104e10a8bd060a3c",
    ]);
  });

  describe("virtee-turin-vcek-only: Turin VCEK + chain, no report", () => {
    const vcek = sharedFile("virtee-turin-vcek-only", "vcek_turin.der");
    const chain = pems(
      readFileSync(`${sharedItemDir("virtee-turin-vcek-only")}/cert_chain_turin.pem`, "utf8"),
    );
    // Only the pinned ARKs, no built-in intermediates: the item's own chain must carry the ASK.
    const verifier = (): EndorsementVerifier =>
      new EndorsementVerifier({ arks: PINNED_AMD_ANCHORS.arks, intermediates: [] });

    it("chain is valid (VCEK -> SEV-Turin -> ARK-Turin) and the TCB extensions decode with fmcSPL", () => {
      const e = verifier().verify(vcek, chain, at("2025-01-01T00:00:00Z"));
      expect(e.product).to.equal("Turin");
      expect(e.keyKind).to.equal("vcek");
      expect(e.extensions.spl).to.deep.equal({ fmc: 0, bootloader: 0, tee: 0, snp: 0, microcode: 9 });
      expect(Buffer.from(e.extensions.hwId ?? []).toString("hex")).to.equal("1e550a8ee5cf9f4d");
      expect(e.validity.map((v) => v.name)).to.deep.equal(["VCEK", "SEV-Turin", "ARK-Turin"]);
    });

    it("is not valid before the VCEK's notBefore or after its notAfter", () => {
      expectCode(
        () => verifier().verify(vcek, chain, at("2024-11-06T21:13:00Z")),
        "CertificateExpired",
        /VCEK is not valid before/,
      );
      expectCode(
        () => verifier().verify(vcek, chain, at("2031-11-07T00:00:00Z")),
        "CertificateExpired",
        /VCEK expired/,
      );
    });

    it("fails without an ASK when no built-in intermediates are configured", () => {
      expectCode(() => verifier().verify(vcek, [], at("2025-01-01T00:00:00Z")), "ChainInvalid", /SEV-Turin/);
    });
  });

  it("rejects the Genoa VCEK when only the Milan ARK and chain are trusted", () => {
    const milanOnly = new EndorsementVerifier({ arks: [AMD_ARKS.Milan], intermediates: [] });
    const milanChain = pems(readFileSync(`${sharedItemDir("_common")}/ask_ark_milan_vcek.pem`, "utf8"));
    const genoaVcek = sharedFile("trustee-genoa-v3-e2e", "vcek.der");
    expectCode(() => milanOnly.verify(genoaVcek, milanChain, at("2025-09-01T00:00:00Z")), "ChainInvalid");
  });

  it("verifies a VLEK through the ASVK from the built-ins", () => {
    const pinned = new EndorsementVerifier(PINNED_AMD_ANCHORS);
    const e = pinned.verify(
      sharedFile("trustee-aws-vlek-milan-v3", "test-vlek.der"),
      [],
      at("2025-06-01T00:00:00Z"),
    );
    expect(e).to.include({ keyKind: "vlek", product: "Milan" });
    expect(e.validity[1]?.name).to.equal("SEV-VLEK-Milan");
  });

  it("caches a verified chain by leaf digest but re-checks validity on every use", () => {
    const pinned = new EndorsementVerifier(PINNED_AMD_ANCHORS);
    const vcek = localFixture("milan-v2-vcek.der");
    pinned.verify(vcek, [], at("2024-01-01T00:00:00Z"));
    pinned.verify(vcek, [], at("2024-01-02T00:00:00Z"));
    expect(pinned.stats).to.deep.equal({ hits: 1, misses: 1 });
    expectCode(() => pinned.verify(vcek, [], at("2030-01-01T00:00:00Z")), "CertificateExpired");
  });

  it("skips chain entries that are not certificates, whether or not the chain is cached", () => {
    const pinned = new EndorsementVerifier(PINNED_AMD_ANCHORS);
    const e = pinned.verify(
      localFixture("milan-v2-vcek.der"),
      [Uint8Array.from([1, 2, 3])],
      at("2024-01-01T00:00:00Z"),
    );
    expect(e.product).to.equal("Milan");
  });

  it("rejects a tampered VCEK", () => {
    const vcek = Uint8Array.from(localFixture("milan-v2-vcek.der"));
    vcek[vcek.length - 10] = (vcek[vcek.length - 10] ?? 0) ^ 0xff;
    expectCode(
      () => new EndorsementVerifier(PINNED_AMD_ANCHORS).verify(vcek, [], at("2024-01-01T00:00:00Z")),
      "ChainInvalid",
    );
  });

  describe("with a fake AMD hierarchy", () => {
    const now = at("2030-01-01T00:00:00Z");

    it("never trusts a fake ARK that arrives with the chain", async () => {
      const fake = await makeFakeAmdPki({ spl: { bootloader: 1, tee: 0, snp: 8, microcode: 100 } });
      const pinned = new EndorsementVerifier(PINNED_AMD_ANCHORS);
      expectCode(
        () => pinned.verify(fake.leafDer, pems(fake.intermediatePem + fake.arkPem), now),
        "ChainInvalid",
      );
      // The same chain verifies once the test explicitly anchors its ARK.
      const e = new EndorsementVerifier(fake.anchors).verify(fake.leafDer, pems(fake.intermediatePem), now);
      expect(e.product).to.equal("Milan");
    });

    it("rejects an ASK signed by another key under the ARK's name", async () => {
      const trusted = await makeFakeAmdPki();
      const impostor = await makeFakeAmdPki();
      const verifier = new EndorsementVerifier(trusted.anchors);
      expectCode(
        () => verifier.verify(impostor.leafDer, pems(impostor.intermediatePem), now),
        "ChainInvalid",
      );
    });

    it("reports CertificateExpired when the ASK expires before the VCEK, and before the ASK's notBefore", async () => {
      const fake = await makeFakeAmdPki({
        askValidity: [at("2026-01-01T00:00:00Z"), at("2028-01-01T00:00:00Z")],
      });
      const verifier = new EndorsementVerifier(fake.anchors);
      const chain = pems(fake.intermediatePem);
      expect(verifier.verify(fake.leafDer, chain, at("2027-01-01T00:00:00Z")).product).to.equal("Milan");
      expectCode(() => verifier.verify(fake.leafDer, chain, now), "CertificateExpired", /SEV-Milan expired/);
      expectCode(
        () => verifier.verify(fake.leafDer, chain, at("2025-06-01T00:00:00Z")),
        "CertificateExpired",
        /SEV-Milan is not valid before/,
      );
    });

    it("rejects a VCEK issued by an ASVK and a productName that does not match the ARK", async () => {
      const crossed = await makeFakeAmdPki({ kind: "vcek", intermediateCn: "SEV-VLEK-Milan" });
      expectCode(
        () =>
          new EndorsementVerifier(crossed.anchors).verify(
            crossed.leafDer,
            pems(crossed.intermediatePem),
            now,
          ),
        "ChainInvalid",
        /must be issued by SEV-Milan/,
      );
      const misnamed = await makeFakeAmdPki({ productName: "Genoa" });
      expectCode(
        () =>
          new EndorsementVerifier(misnamed.anchors).verify(
            misnamed.leafDer,
            pems(misnamed.intermediatePem),
            now,
          ),
        "ChainInvalid",
        /productName "Genoa"/,
      );
    });
  });
});
