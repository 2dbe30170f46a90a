import { expect } from "chai";
import { classifyAcceptance, fuzzBases, runFuzz, type FuzzBase } from "./evidence-fuzz.ts";
import { Draw, mutateBundle, seededRandom } from "./evidence-mutations.ts";
import { derSignedContent, tdxDeclaredLength } from "./evidence-signed-view.ts";

describe("evidence mutation fuzz (short version of bench/chaos-evidence.ts)", function () {
  this.timeout(180_000);
  let bases: FuzzBase[] = [];
  before(async () => {
    bases = await fuzzBases();
  });

  const tdxBase = () => {
    const base = bases.find((b) => b.name.startsWith("tdx/dcapqvl-uptodate-v4"));
    if (base === undefined) throw new Error("no dcapqvl-uptodate-v4 base");
    return base;
  };
  const withQuote = (base: FuzzBase, edit: (quote: Buffer) => Buffer) => {
    const document = structuredClone(base.bundle) as { tee: { quote: string } };
    document.tee.quote = edit(Buffer.from(document.tee.quote, "base64")).toString("base64");
    return document;
  };
  const mutation = { target: "tee.quote", kind: "test", text: "" };

  it("starts from real TDX, SNP and GPU bundles that verify accepts as they are", () => {
    const kinds = new Set(
      bases.map(
        (b) =>
          `${b.name.split("/")[0] ?? ""}${b.name.includes("NVIDIA") || b.name.includes("H100") ? "+gpu" : ""}`,
      ),
    );
    expect([...kinds].sort()).to.include.members(["snp", "snp+gpu", "tdx", "tdx+gpu"]);
    for (const base of bases) expect(base.baseline, base.name).to.be.oneOf(["affirming", "warning"]);
    // The quote, the report and the TCB info are what the verdict rests on.
    expect([...tdxBase().required]).to.include.members(["tee.quote", "tee.collateral.tcbInfo"]);
    // The CCEL only when a policy rule reads it; the SNP chain (AMD's ASK/ARK are built in) never.
    const ccel = bases.filter((b) => b.name.startsWith("tdx/google-gcp") && b.views.has("tee.eventLog"));
    expect(ccel.map((b) => b.required.has("tee.eventLog"))).to.have.members([false, false, false, true]);
    for (const base of bases.filter((b) => b.name.startsWith("snp/")))
      expect(base.required.has("tee.certChain"), base.name).to.equal(false);
  });

  it("counts an acceptance of a changed signed quote byte as inside signed bytes, padding after it as outside", () => {
    const base = tdxBase();
    const flipped = withQuote(base, (q) => {
      q[100] = (q[100] ?? 0) ^ 1;
      return q;
    });
    expect(classifyAcceptance(base, flipped, mutation)).to.deep.equal({
      kind: "accepted-signed",
      field: "tee.quote",
    });
    const padded = withQuote(base, (q) =>
      Buffer.concat([q.subarray(0, tdxDeclaredLength(q)), Buffer.alloc(16, 0x5a)]),
    );
    expect(classifyAcceptance(base, padded, mutation).kind).to.equal("accepted-unsigned");
  });

  it("counts a root CA CRL changed inside its signed part as signed, its outer length as outside", () => {
    const base = tdxBase();
    const withCrl = (edit: (crl: Buffer) => void) => {
      const document = structuredClone(base.bundle) as { tee: { collateral: { rootCaCrl: string } } };
      const crl = Buffer.from(document.tee.collateral.rootCaCrl, "base64");
      edit(crl);
      document.tee.collateral.rootCaCrl = crl.toString("base64");
      return document;
    };
    const crlMutation = { ...mutation, target: "tee.collateral.rootCaCrl" };
    // Byte 3: the low byte of the outer SEQUENCE's two-byte length; byte 12: inside the to-be-signed CRL.
    expect(
      classifyAcceptance(
        base,
        withCrl((c) => void (c[3] = 0)),
        crlMutation,
      ).kind,
    ).to.equal("accepted-unsigned");
    expect(
      classifyAcceptance(
        base,
        withCrl((c) => void (c[12] = (c[12] ?? 0) ^ 1)),
        crlMutation,
      ),
    ).to.deep.equal({
      kind: "accepted-signed",
      field: "tee.collateral.rootCaCrl",
    });
  });

  it("treats a DER signature's unused-bits octet and trailing bytes as encoding, its bits as signed", () => {
    // SEQUENCE { SEQUENCE {} (tbs), SEQUENCE {} (algorithm), BIT STRING 00 ab cd }
    const der = Buffer.from("300a30003000030400abcdef", "hex");
    const unusedBits = Buffer.from(der);
    unusedBits[8] = 4;
    expect(derSignedContent(unusedBits)).to.equal(derSignedContent(der));
    expect(derSignedContent(Buffer.concat([der, Buffer.from([1, 2])]))).to.equal(derSignedContent(der));
    const signature = Buffer.from(der);
    signature[9] = 0xac;
    expect(derSignedContent(signature)).to.not.equal(derSignedContent(der));
  });

  it("mutations replay from their seed and never return the bundle unchanged", () => {
    const base = tdxBase();
    const donor = bases[bases.length - 1] ?? base;
    const first = mutateBundle(base.bundle, donor.bundle, new Draw(seededRandom(42)));
    const again = mutateBundle(base.bundle, donor.bundle, new Draw(seededRandom(42)));
    expect(again).to.deep.equal(first);
    const original = JSON.stringify(base.bundle);
    for (let i = 0; i < 200; i++)
      expect(mutateBundle(base.bundle, donor.bundle, new Draw(seededRandom(i))).text).to.not.equal(original);
  });

  it("2,000 mutations: no crash, no accepted signed-byte mutation, most refused", async () => {
    const stats = await runFuzz(bases, { seed: 0x5eed, mutations: 2000 });
    expect(stats.findings, JSON.stringify(stats.findings.slice(0, 3), null, 2)).to.deep.equal([]);
    expect(stats.crashes).to.equal(0);
    expect(stats.acceptedSigned).to.equal(0);
    expect(stats.rejected + stats.inputErrors + stats.acceptedUnsigned).to.equal(2000);
    expect(stats.rejected / stats.mutations).to.be.greaterThan(0.5);
    // Every kind of target was exercised: binary fields, structure, JSON text.
    expect(Object.keys(stats.byTarget)).to.include.members([
      "tee.quote",
      "tee.report",
      "gpus[].evidence",
      "bundle",
      "json",
    ]);
  });
});
