import { expect } from "chai";
import { readFileSync } from "node:fs";
import { generateKeyPair } from "jose";
import {
  makeTestNras,
  sampleGpuClaims,
  signDetachedEat,
  type EatSpec,
} from "../../../../test/support/fakes/nras-tokens.ts";
import { nvidiaItemDir, SHARED_GPU_ITEMS } from "../../../../test/fixtures/nvidia/shared-items.ts";
import { generateNvidiaHierarchy, issueCertificate } from "../../simulated/nvidia-pki.ts";
import { EvidenceError } from "../../types.ts";
import { appraiseNrasClaims } from "./claims.ts";
import { parseDetachedEat, submodDigestErrors, verifyNrasEat, type DetachedEat } from "./eat.ts";
import { jwksKeySource } from "./nras-keys.ts";

const sample = (item: string, file: string) => readFileSync(`${nvidiaItemDir(item)}/${file}`, "utf8");
const NONCE = "931d8dd0add203ac3d8b4fbde75e115278eefcdceac5b87671a748f32364dfcb";
const nras = await makeTestNras();
const keys = jwksKeySource(() => Promise.resolve(nras.jwks), { source: "test JWKS", roots: [] });
const ISSUER = "https://nras.attestation.nvidia.com";

async function verify(eat: unknown, now = new Date(), nonce = NONCE) {
  return verifyNrasEat(parseDetachedEat(eat), {
    key: (header) => keys.keyFor(header.kid, now),
    now,
    nonce,
    issuers: [ISSUER],
  });
}

async function codeOf(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
    return "none";
  } catch (error) {
    return error instanceof EvidenceError ? error.code : `escaped: ${String(error)}`;
  }
}

const signed = (spec: Partial<EatSpec> = {}) =>
  signDetachedEat(nras, { nonce: NONCE, submods: { "GPU-0": sampleGpuClaims() }, ...spec });

describe("NRAS detached EAT", () => {
  describe("NVIDIA's real samples (no JWKS: structure, digests and claims only)", () => {
    for (const [item, file, name] of [
      ["nvtrust-hopper-550", "nras_detached_eat.json", "GPU-0"],
      ["sdk-nvswitch-ls10", "nras_detached_eat_stg.json", "SWITCH-0"],
    ] as const) {
      it(`${item}: layout [["JWT", overall], {${name}}], the overall token's SHA-256 digest matches ${name}`, () => {
        const eat = parseDetachedEat(sample(item, file));
        expect(Object.keys(eat.submods)).to.deep.equal([name]);
        expect(submodDigestErrors(eat)).to.deep.equal([]);
      });

      it(`${item}: a changed ${name} token no longer matches its digest (SignatureInvalid)`, () => {
        const eat = parseDetachedEat(sample(item, file));
        const token = eat.submods[name] ?? "";
        const tampered: DetachedEat = { ...eat, submods: { [name]: `${token.slice(0, -2)}AA` } };
        expect(submodDigestErrors(tampered).map((e) => e.code)).to.deep.equal(["SignatureInvalid"]);
      });
    }

    it("nvtrust-hopper-550: NVIDIA's GPU-0 claims appraise as match / good for the device they name", () => {
      const decoded = JSON.parse(sample("nvtrust-hopper-550", "nras_claims_decoded.json")) as Record<
        string,
        Record<string, unknown>
      >;
      const facts = SHARED_GPU_ITEMS.find((i) => i.item === "nvtrust-hopper-550")?.facts;
      const appraisal = appraiseNrasClaims(
        decoded["GPU-0"] ?? {},
        {
          kind: "gpu",
          ueid: facts?.ueid ?? "",
          driverVersion: facts?.driverVersion ?? "",
          vbiosVersion: facts?.vbiosVersion ?? "",
        },
        { mode: "remote", allowCertificateHold: false },
      );
      expect(appraisal).to.deep.equal({ measurements: "match", revocation: "good", errors: [] });
    });

    it("sdk-nvswitch-ls10: NVIDIA's SWITCH-0 claims appraise as match / good", () => {
      const decoded = JSON.parse(sample("sdk-nvswitch-ls10", "nras_claims_decoded.json")) as Record<
        string,
        Record<string, unknown>
      >;
      const appraisal = appraiseNrasClaims(
        decoded["SWITCH-0"] ?? {},
        { kind: "switch", driverVersion: "", vbiosVersion: "96.10.55.00.01" },
        { mode: "remote", allowCertificateHold: false },
      );
      expect(appraisal).to.deep.equal({ measurements: "match", revocation: "good", errors: [] });
    });

    it("the real tokens' signatures cannot be verified with a JWKS that lacks their kid (SignatureInvalid)", async () => {
      expect(
        await codeOf(() =>
          verify(sample("nvtrust-hopper-550", "nras_detached_eat.json"), new Date("2025-06-11T00:31:00Z")),
        ),
      ).to.equal("SignatureInvalid");
    });
  });

  describe("tokens signed with a test key in the real layout", () => {
    it("verifies the overall and every detached token", async () => {
      const verified = await verify(await signed());
      expect(verified.overall["x-nvidia-overall-att-result"]).to.equal(true);
      expect(verified.submods["GPU-0"]?.["measres"]).to.equal("success");
    });

    const rejected: [string, () => Promise<unknown>, string][] = [
      [
        "a wrong signer under the same kid",
        async () => verify(await signed({ signingKey: (await generateKeyPair("ES384")).privateKey })),
        "SignatureInvalid",
      ],
      [
        "ES256 instead of ES384",
        async () =>
          verify(await signed({ alg: "ES256", signingKey: (await generateKeyPair("ES256")).privateKey })),
        "SignatureInvalid",
      ],
      [
        "an expired token",
        async () => verify(await signed({ now: new Date(Date.now() - 2 * 3600_000) })),
        "CollateralExpired",
      ],
      [
        "a token not yet valid",
        async () => verify(await signed({ now: new Date(Date.now() + 2 * 3600_000) })),
        "CollateralExpired",
      ],
      ["a wrong nonce", async () => verify(await signed({ nonce: "00".repeat(32) })), "NonceMismatch"],
      [
        "the staging issuer",
        async () => verify(await signed({ issuer: "https://nras.attestation-stg.nvidia.com" })),
        "SignatureInvalid",
      ],
      [
        "a validly signed GPU-0 from another answer (digest mismatch)",
        async () => {
          const other = (await signed({
            submods: { "GPU-0": { ...sampleGpuClaims(), measres: "fail" } },
          })) as [unknown, Record<string, string>];
          return verify(await signed({ replaceDetached: { "GPU-0": other[1]["GPU-0"] ?? "" } }));
        },
        "SignatureInvalid",
      ],
      [
        "a detached token the overall token does not cover",
        async () => verify(await signed({ replaceDetached: { "GPU-1": "a.b.c" } })),
        "SignatureInvalid",
      ],
      ["not the EAT layout", () => verify({ token: "x" }), "EvidenceMalformed"],
    ];
    for (const [name, run, code] of rejected) {
      it(`rejects ${name} (${code})`, async () => {
        expect(await codeOf(run)).to.equal(code);
      });
    }
  });

  describe("JWKS keys with an x5c chain", () => {
    const ca = generateNvidiaHierarchy();
    function keyWithX5c(rootPems: string[], signer = ca.ica) {
      const leaf = issueCertificate("NRAS signing", signer, { ca: false });
      const jwk = leaf.keys.publicKey.export({ format: "jwk" });
      const x5c = [leaf.certificate, signer.certificate, ca.identity.certificate].map((c) =>
        Buffer.from(c.raw).toString("base64"),
      );
      const source = jwksKeySource(
        () => Promise.resolve({ keys: [{ ...jwk, kid: "k", alg: "ES384", x5c }] }),
        { source: "x5c test", roots: rootPems },
      );
      return { source, leaf };
    }

    it("accepts a key whose x5c chains to a pinned root, refuses one that does not (ChainInvalid)", async () => {
      const pinned = keyWithX5c([ca.root.certificate.toString()]);
      expect((await pinned.source.keyFor("k", new Date())).equals(pinned.leaf.keys.publicKey)).to.equal(true);
      const other = generateNvidiaHierarchy();
      const unpinned = keyWithX5c([other.root.certificate.toString()]);
      expect(await codeOf(() => unpinned.source.keyFor("k", new Date()))).to.equal("ChainInvalid");
      expect(await codeOf(() => pinned.source.keyFor("k", new Date("1990-01-01T00:00:00Z")))).to.equal(
        "CertificateExpired",
      );
      expect(await codeOf(() => pinned.source.keyFor("unknown", new Date()))).to.equal("SignatureInvalid");
    });
  });
});
