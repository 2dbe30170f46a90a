import { expect } from "chai";
import { X509Certificate } from "node:crypto";
import { generateNvidiaCa, issueNvidiaDevice } from "../simulated/nvidia-pki.ts";
import { parsePemCertificates } from "../../crypto/pem.ts";
import { EvidenceError } from "../types.ts";
import { candidateIssuers, pathToPinnedRoot } from "./cert-path.ts";

/** Leaf, device, ICA, identity, root of a simulated GPU, as DER. */
function deviceChain(ca: ReturnType<typeof generateNvidiaCa>): Uint8Array[] {
  return parsePemCertificates(issueNvidiaDevice(ca).chainPem, "test chain");
}

describe("pathToPinnedRoot", function () {
  const options = { maxDepth: 8, prefix: "test chain: ", where: "the supplied certificates" };

  it("builds leaf → intermediates → the pinned root from supplied certificates in any order", function () {
    const ca = generateNvidiaCa();
    const [leafDer, ...rest] = deviceChain(ca);
    const leaf = new X509Certificate(leafDer ?? new Uint8Array());
    const path = pathToPinnedRoot(leaf, candidateIssuers(rest.reverse()), [ca.root], options);
    expect(path.map((c) => c.subject.replace(/^CN=/, ""))).to.deep.equal([
      "GH100 A01 GSP FMC LF",
      "GH100 A01 GSP BROM",
      "NVIDIA GH100 Provisioner ICA 1",
      "NVIDIA GH100 Identity",
      "NVIDIA Device Identity CA",
    ]);
    expect(path.at(-1)?.fingerprint256).to.equal(ca.root.fingerprint256);
  });

  it("never trusts a root that arrives with the evidence, and names the certificate nobody signs", function () {
    const [pinned, other] = [generateNvidiaCa(), generateNvidiaCa()];
    const [leafDer, ...rest] = deviceChain(other);
    const supplied = candidateIssuers(rest);
    expect(
      supplied.map((c) => c.fingerprint256),
      "the supplied self-signed root is dropped",
    ).not.to.include(other.root.fingerprint256);
    expect(() =>
      pathToPinnedRoot(new X509Certificate(leafDer ?? new Uint8Array()), supplied, [pinned.root], options),
    )
      .to.throw(
        EvidenceError,
        /^test chain: no certificate in the supplied certificates signs NVIDIA GH100 Identity/,
      )
      .with.property("code", "ChainInvalid");
  });

  it("once a genuine chain is verified, a chain of the same names from another CA still fails on its signatures", function () {
    const [pinned, impostor] = [generateNvidiaCa(), generateNvidiaCa()];
    const path = (ca: ReturnType<typeof generateNvidiaCa>) => {
      const [leafDer, ...rest] = deviceChain(ca);
      return () =>
        pathToPinnedRoot(
          new X509Certificate(leafDer ?? new Uint8Array()),
          candidateIssuers(rest),
          [pinned.root],
          options,
        );
    };
    expect(path(pinned)()).to.have.length(5);
    expect(path(pinned)(), "a second device of the same CA, its shared links remembered").to.have.length(5);
    expect(path(impostor)).to.throw(EvidenceError, /no certificate in the supplied certificates signs/);
  });

  it("drops unparseable supplied entries instead of failing on them", function () {
    expect(candidateIssuers([Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x00), new Uint8Array()])).to.deep.equal(
      [],
    );
  });
});
