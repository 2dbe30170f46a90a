import { expect } from "chai";
import fc from "fast-check";
import type { KeyObject } from "node:crypto";
import { EvidenceError } from "../../types.ts";
import { RimVerifier } from "./rim.ts";
import { sharedRim } from "./rim.test.ts";
import { envelopedSignature, parseXml, profiledSignedXml, verifyEnvelopedSignature } from "./xml-dsig.ts";

const NAMES = ["driver545", "vbios545", "vbios580", "switch"] as const;
const verifier = new RimVerifier(undefined, 0);
const signerKeys = new Map(NAMES.map((name) => [name, signerKeyOf(sharedRim(name))]));

function signerKeyOf(text: string): KeyObject {
  const key = verifier.verifySignature(text).signerChain[0]?.publicKey;
  if (key === undefined) throw new Error("no signer");
  return key;
}

/** The signed canonical XML by this module's reference processing, or the error code. */
function ours(text: string, key: KeyObject): string {
  try {
    return verifyEnvelopedSignature(envelopedSignature(parseXml(text)), key);
  } catch (error) {
    if (error instanceof EvidenceError) return `rejected ${error.code}`;
    throw error;
  }
}

/** The same by xml-crypto's checkSignature (which parses, selects and clones on its own), or "rejected". */
function xmlCrypto(text: string, key: KeyObject): string {
  let signature;
  try {
    signature = envelopedSignature(parseXml(text));
  } catch (error) {
    if (error instanceof EvidenceError) return `rejected ${error.code}`;
    throw error;
  }
  const signed = profiledSignedXml({ publicCert: key, getCertFromKeyInfo: () => null });
  try {
    signed.loadSignature(signature);
    if (!signed.checkSignature(text)) return "rejected SignatureInvalid";
  } catch {
    return "rejected SignatureInvalid";
  }
  return signed.getSignedReferences()[0] ?? "rejected SignatureInvalid";
}

describe("RIM XML-DSig reference processing agrees with xml-crypto's checkSignature", function () {
  this.timeout(120_000);

  for (const name of NAMES) {
    it(`${name}: the same signed canonical document`, () => {
      const key = signerKeys.get(name) as KeyObject;
      const text = sharedRim(name);
      const canonical = ours(text, key);
      expect(canonical).to.match(/^<SoftwareIdentity /);
      expect(canonical).to.not.include("Signature");
      expect(canonical).to.equal(xmlCrypto(text, key));
    });
  }

  it("the same verdict and output for mutated RIMs (property: byte edits, whitespace, comments, namespace declarations)", () => {
    const edits = fc.oneof(
      fc.record({
        kind: fc.constant("replace"),
        at: fc.nat(),
        text: fc.constantFrom("0", "a", " ", "\n", '"', "x"),
      }),
      fc.record({
        kind: fc.constant("insert"),
        at: fc.nat(),
        text: fc.constantFrom(" ", "\t", "<!-- c -->", ' xmlns:q="urn:q"', ' xmlns=""', "&#x41;", "\r\n"),
      }),
      fc.record({ kind: fc.constant("delete"), at: fc.nat(), text: fc.constant("") }),
    );
    let accepted = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(...NAMES),
        fc.array(edits, { minLength: 1, maxLength: 3 }),
        (name, changes) => {
          const key = signerKeys.get(name) as KeyObject;
          let text = sharedRim(name);
          for (const change of changes) {
            const at = change.at % text.length;
            const cut = change.kind === "insert" ? 0 : 1;
            text = `${text.slice(0, at)}${change.text}${text.slice(at + cut)}`;
          }
          const mine = ours(text, key);
          const theirs = xmlCrypto(text, key);
          // Both accept with the same bytes, or both reject (the codes may differ in detail).
          expect(mine.startsWith("rejected"), `${name}: ours ${mine.slice(0, 60)}`).to.equal(
            theirs.startsWith("rejected"),
          );
          if (!mine.startsWith("rejected")) {
            accepted++;
            expect(mine).to.equal(theirs);
          }
        },
      ),
      { numRuns: 300 },
    );
    // Edits c14n normalises away (whitespace inside tags, comments, character references) are accepted by both.
    expect(accepted).to.be.greaterThan(10);
  });
});
