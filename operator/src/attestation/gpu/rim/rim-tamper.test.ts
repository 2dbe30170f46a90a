import { expect } from "chai";
import fc from "fast-check";
import { EvidenceError } from "../../types.ts";
import { RimVerifier } from "./rim.ts";
import { sharedRim } from "./rim.test.ts";

const AT = new Date("2024-06-01T00:00:00Z");

function codeOf(text: string, verifier = new RimVerifier(undefined, 0)): string {
  try {
    verifier.verify(text, AT);
    return "verified";
  } catch (error) {
    if (!(error instanceof EvidenceError)) throw error;
    return error.code;
  }
}

describe("tampering with a signed RIM", function () {
  this.timeout(120_000);
  const original = sharedRim("driver545");
  const verifier = new RimVerifier(undefined, 0);

  it("the untouched RIM verifies", () => {
    expect(codeOf(original, verifier)).to.equal("verified");
  });

  it("changing any attribute of any element of the signed document breaks the signature", () => {
    const signedPart = original.slice(0, original.indexOf("<ds:Signature"));
    const attributes = [...signedPart.matchAll(/ ([\w:]+)="([^"]*)"/g)];
    expect(attributes.length).to.be.greaterThan(64 * 6);
    const codes = new Set<string>();
    for (const match of attributes) {
      const [whole, name, value = ""] = match;
      const changed = /^[0-9a-f]+$/.test(value)
        ? value.replace(/^./, (c) => (c === "0" ? "1" : "0"))
        : `${value}x`;
      const at = match.index;
      const tampered = `${original.slice(0, at)} ${name ?? ""}="${changed}"${original.slice(at + whole.length)}`;
      codes.add(codeOf(tampered, verifier));
    }
    expect([...codes]).to.deep.equal(["SignatureInvalid"]);
  });

  it("removing a measurement resource or adding one breaks the signature", () => {
    const resource = /\s*<ns0:Resource [^>]*index="7"[^>]*\/>/.exec(original)?.[0] ?? "";
    expect(codeOf(original.replace(resource, ""), verifier)).to.equal("SignatureInvalid");
    expect(
      codeOf(
        original.replace(resource, `${resource}${resource.replace('index="7"', 'index="64"')}`),
        verifier,
      ),
    ).to.equal("SignatureInvalid");
  });

  it("flipping any bit pattern of the SignatureValue or the DigestValue is rejected", () => {
    const signatureValue = /<ds:SignatureValue>([^<]*)<\/ds:SignatureValue>/.exec(original)?.[1] ?? "";
    const raw = Buffer.from(signatureValue, "base64");
    expect(raw).to.have.length(96);
    for (let i = 0; i < raw.length; i++) {
      const flipped = Buffer.from(raw);
      flipped[i] = (flipped[i] ?? 0) ^ 0x01;
      expect(
        codeOf(original.replace(signatureValue, flipped.toString("base64")), verifier),
        `byte ${i}`,
      ).to.equal("SignatureInvalid");
    }
    const digest = /<ds:DigestValue>([^<]*)<\/ds:DigestValue>/.exec(original)?.[1] ?? "";
    const otherDigest = Buffer.from(digest, "base64").map((b) => b ^ 0xff);
    expect(codeOf(original.replace(digest, Buffer.from(otherDigest).toString("base64")), verifier)).to.equal(
      "SignatureInvalid",
    );
  });

  it("a signature outside NVIDIA's profile is malformed, not verified by another algorithm", () => {
    const swaps: [string, string][] = [
      ["xmldsig-more#ecdsa-sha384", "xmldsig-more#rsa-sha256"],
      ["xmldsig-more#sha384", "xmlenc#sha256"],
      ['<ds:Reference URI="">', '<ds:Reference URI="#x">'],
      ["xml-c14n11", "xml-exc-c14n#"],
    ];
    for (const [from, to] of swaps) {
      expect(codeOf(original.replace(from, to), verifier), to).to.equal("EvidenceMalformed");
    }
  });

  it("a signer certificate swapped for another RIM's signer no longer verifies the signature", () => {
    const signerOf = (text: string) =>
      /<ds:X509Certificate>([^<]*)<\/ds:X509Certificate>/.exec(text)?.[1] ?? "";
    const other = signerOf(sharedRim("vbios545"));
    expect(codeOf(original.replace(signerOf(original), other), verifier)).to.be.oneOf([
      "SignatureInvalid",
      "ChainInvalid",
    ]);
  });

  it("garbage, truncated or mutated RIM text only ever fails with an EvidenceError (property)", () => {
    const mutation = fc.record({
      edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 32, max: 126 })), { maxLength: 6 }),
      cut: fc.option(fc.nat(), { nil: undefined }),
    });
    fc.assert(
      fc.property(mutation, ({ edits, cut }) => {
        const chars = original.split("");
        for (const [at, code] of edits) chars[at % chars.length] = String.fromCharCode(code);
        const text = chars.join("").slice(0, cut === undefined ? undefined : cut % (original.length + 1));
        // Whitespace inside base64 may be edited harmlessly; what matters is that nothing but an EvidenceError escapes.
        return typeof codeOf(text, verifier) === "string";
      }),
      { numRuns: 150 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (text) => codeOf(text, verifier) === "EvidenceMalformed"),
      { numRuns: 300 },
    );
  });
});
