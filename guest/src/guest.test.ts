import { expect } from "chai";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import type { ConfidentialVM } from "../../operator/src/api/v1alpha1/generated/types.ts";
import { signAttestationResult } from "../../operator/src/attestation/result/result-token.ts";
import {
  sealSecretForGuest,
  type ReleaseContext,
} from "../../operator/src/attestation/result/secret-release.ts";
import {
  generateSigningKey,
  publicJwks,
  type StoredSigningKey,
} from "../../operator/src/attestation/result/signing-keys.ts";
import { backendsTrusting } from "../../operator/src/attestation/simulated/backends.ts";
import {
  generateSimPki,
  simPkiTrustRoots,
  type SimPki,
} from "../../operator/src/attestation/simulated/sim-pki.ts";
import { SimulatedGpus } from "../../operator/src/attestation/simulated/simulated-gpus.ts";
import { SimulatedTee } from "../../operator/src/attestation/simulated/simulated-tee.ts";
import { simulatedCollateralSource } from "../../operator/src/attestation/simulated/collateral-routes.ts";
import type { EvidenceBundle } from "../../operator/src/attestation/types.ts";
import { appraise } from "../../operator/src/attestation/appraise.ts";
import { compilePolicySpec } from "../../operator/src/attestation/policy/compiled-policy.ts";
import { Guest } from "./guest.ts";
import { newGuestKey } from "./guest-key.ts";
import { createLogger } from "../../operator/src/runtime/logger.ts";
import { hardwareHints } from "./hardware.ts";
import { aConfidentialVM } from "../../operator/test/support/builders/confidential-vm.ts";

const NOW = new Date("2030-01-01T12:00:00Z");
const A = "a1".repeat(32);
const B = "b2".repeat(32);
const silent = pino({ level: "silent" });

function cvm(status: ConfidentialVM["status"] = {}, gpus = 2, tee: "tdx" | "snp" = "snp"): ConfidentialVM {
  return aConfidentialVM({ tee, policyRef: "p", gpus: { count: gpus } }, "llm", { status });
}

const challenge = (nonce: string, expiresAt = "2030-01-01T12:05:00Z") => ({
  challenge: { nonce, issuedAt: "2030-01-01T12:00:00Z", expiresAt },
});

describe("Guest (decides, answers, opens secrets)", function () {
  this.timeout(30_000);
  let pki: SimPki;
  let dir: string;
  let applied: EvidenceBundle[];
  let failApply: number;
  let operator: StoredSigningKey;

  const release = (secretName: string): ReleaseContext => ({
    issuer: "trustgate",
    subject: "team-a/llm",
    secretName,
    nonce: A,
    signingKey: operator,
    now: NOW,
  });
  /** The operator's signed result for `jkt`, as the controller writes it into status.attestation.token. */
  const result = (jkt: string, subject = "team-a/llm", nonce = A) =>
    signAttestationResult(
      {
        issuer: "trustgate",
        subject,
        nonce,
        guestKeyThumbprint: jkt,
        verdict: "affirming",
        submods: {},
        issuedAt: NOW,
        expiresAt: new Date(NOW.getTime() + 3_600_000),
      },
      operator,
    );

  function guest(pinned = true, log = silent): Guest {
    return new Guest({
      api: {
        applyEvidence: (evidence) => {
          if (failApply-- > 0) return Promise.reject(new Error("connection refused"));
          applied.push(evidence);
          return Promise.resolve(cvm());
        },
      },
      providers: { tee: new SimulatedTee(pki), gpus: new SimulatedGpus(pki) },
      secretsDir: dir,
      ...(pinned ? { trust: { jwks: publicJwks([operator]), subject: "team-a/llm" } } : {}),
      log,
      now: () => NOW,
      maxAttempts: 2,
    });
  }

  before(async () => {
    pki = await generateSimPki();
    operator = await generateSigningKey(NOW);
  });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "trustgate-guest-"));
    applied = [];
    failApply = 0;
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  for (const tee of ["snp", "tdx"] as const)
    it(`answers a challenge with ${tee} evidence (no collateral in it) that verifies for its nonce, bound to a fresh key`, async () => {
      const result = await guest().handle(cvm(challenge(A), 2, tee));
      expect(result.decision.action).to.equal("answer");
      expect(applied).to.have.length(1);
      const bundle = applied[0]!;
      expect(bundle.nonce).to.equal(A);
      expect(bundle.gpus).to.have.length(2);
      expect(bundle.tee.type).to.equal(tee);
      expect(Object.keys(bundle.tee).sort()).to.deep.equal(
        tee === "tdx" ? ["quote", "type"] : ["report", "type"],
      );
      const roots = simPkiTrustRoots(pki);
      const report = await appraise(bundle, compilePolicySpec({ gpu: { requireRevocationCheck: false } }), {
        now: new Date(),
        nonce: A,
        expectedTee: tee,
        backends: { ...backendsTrusting(roots), collateral: simulatedCollateralSource(pki) },
      });
      expect(report.tee.binding).to.equal("match");
      expect(report.tee.errors).to.deep.equal([]);
      expect(report.tee.authentic).to.equal(true);
      expect(report.gpus.map((g) => g.errors)).to.deep.equal([[], []]);
    });

  it("logs the nonce's 8-digit prefix on its answer line, the prefix the controller logs too", async () => {
    const lines: string[] = [];
    await guest(
      true,
      createLogger("trustgate-guest", "info", { write: (l: string) => lines.push(l) }),
    ).handle(cvm(challenge(A)));
    const answered = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l["msg"] === "Answered the challenge");
    expect(answered).to.include({ nonce: A.slice(0, 8), level: "info" });
    expect(lines.join("")).to.not.include(A);
  });

  it("answers each nonce once, a new nonce again with a new key, and never an expired challenge", async () => {
    const g = guest();
    await g.handle(cvm(challenge(A)));
    const first = g.keyThumbprint;
    expect((await g.handle(cvm(challenge(A)))).decision).to.include({
      action: "wait",
      reason: "AlreadyAnswered",
    });
    expect((await g.handle(cvm(challenge(B, "2030-01-01T11:00:00Z")))).decision).to.include({
      reason: "Expired",
    });
    expect((await g.handle(cvm())).decision).to.include({ reason: "NoChallenge" });
    await g.handle(cvm(challenge(B)));
    expect(applied.map((b) => b.nonce)).to.deep.equal([A, B]);
    expect(g.keyThumbprint).not.to.equal(first);
    expect(applied[0]?.publicKey).not.to.deep.equal(applied[1]?.publicKey);
  });

  it("reports a failed answer for a retry, and stops retrying a nonce after maxAttempts", async () => {
    failApply = 5;
    const g = guest();
    const first = await g.handle(cvm(challenge(A)));
    expect(first.error?.message).to.equal("connection refused");
    expect((await g.handle(cvm(challenge(A)))).error).to.be.instanceOf(Error);
    const third = await g.handle(cvm(challenge(A)));
    expect(third.error).to.equal(undefined);
    expect(third.decision).to.include({ action: "wait" });
    failApply = 0;
    await g.handle(cvm(challenge(B)));
    expect(applied.map((b) => b.nonce)).to.deep.equal([B]);
  });

  it("retries successfully after a transient failure", async () => {
    failApply = 1;
    const g = guest();
    expect((await g.handle(cvm(challenge(A)))).error).to.be.instanceOf(Error);
    expect((await g.handle(cvm(challenge(A)))).answered?.nonce).to.equal(A);
  });

  it("writes the secrets released to its current key, once per JWE, and skips others", async () => {
    const g = guest();
    await g.handle(cvm(challenge(A)));
    const bundle = applied[0]!;
    const thumbprint = g.keyThumbprint ?? "";
    const good = await sealSecretForGuest(
      { token: Buffer.from("hf_secret") },
      bundle.publicKey,
      thumbprint,
      release("model"),
    );
    const other = await newGuestKey();
    const foreign = await sealSecretForGuest(
      { token: Buffer.from("x") },
      other.publicJwk,
      other.thumbprint,
      release("elsewhere"),
    );
    await g.handle(
      cvm({
        ...challenge(A),
        attestation: { token: await result(thumbprint) },
        releasedSecrets: [
          { name: "model", jwe: good },
          { name: "elsewhere", jwe: foreign },
          { name: "garbage", jwe: "not.a.jwe.at.all" },
        ],
      }),
    );
    expect(await readFile(join(dir, "model", "token"), "utf8")).to.equal("hf_secret");
    expect(await readdir(dir)).to.deep.equal(["model"]);
  });

  it("opens nothing before it has answered (it holds no key)", async () => {
    const other = await newGuestKey();
    const jwe = await sealSecretForGuest(
      { a: Buffer.from("b") },
      other.publicJwk,
      other.thumbprint,
      release("s"),
    );
    await guest().handle(cvm({ releasedSecrets: [{ name: "s", jwe }] }));
    expect(await readdir(dir)).to.deep.equal([]);
  });

  it("opens nothing until the operator's signed result for this CVM, its own key and its challenge verifies", async () => {
    const g = guest();
    await g.handle(cvm(challenge(A)));
    const thumbprint = g.keyThumbprint ?? "";
    const jwe = await sealSecretForGuest(
      { token: Buffer.from("hf_secret") },
      applied[0]!.publicKey,
      thumbprint,
      release("model"),
    );
    const releasedSecrets = [{ name: "model", jwe }];
    const forged = [
      undefined,
      await result("another-key"),
      await result(thumbprint, "team-b/other"),
      await result(thumbprint, "team-a/llm", B),
    ];
    for (const token of forged) {
      await g.handle(
        cvm({ ...challenge(A), releasedSecrets, ...(token === undefined ? {} : { attestation: { token } }) }),
      );
      expect(await readdir(dir)).to.deep.equal([]);
    }
    await g.handle(
      cvm({ ...challenge(A), releasedSecrets, attestation: { token: await result(thumbprint) } }),
    );
    expect(await readFile(join(dir, "model", "token"), "utf8")).to.equal("hf_secret");
  });

  it("opens nothing without the operator's JWKS pinned in the image", async () => {
    const g = guest(false);
    await g.handle(cvm(challenge(A)));
    const thumbprint = g.keyThumbprint ?? "";
    const jwe = await sealSecretForGuest(
      { a: Buffer.from("b") },
      applied[0]!.publicKey,
      thumbprint,
      release("s"),
    );
    await g.handle(
      cvm({
        ...challenge(A),
        releasedSecrets: [{ name: "s", jwe }],
        attestation: { token: await result(thumbprint) },
      }),
    );
    expect(await readdir(dir)).to.deep.equal([]);
  });
});

describe("hardwareHints", () => {
  it("names GPUs by node and PCI address once assigned, else by the CVM; carries the CVM's TEE", () => {
    expect(hardwareHints(cvm({ nodeName: "n1", gpus: [{ pciAddress: "0000:41:00.0" }] }))).to.deep.equal({
      machine: "n1",
      tee: "snp",
      gpus: ["n1/0000:41:00.0"],
    });
    expect(hardwareHints(cvm({}, 2, "tdx"))).to.deep.equal({
      machine: "team-a/llm",
      tee: "tdx",
      gpus: ["team-a/llm/gpu0", "team-a/llm/gpu1"],
    });
    // Placed, GPUs not reported by the host yet: one model-only entry each, still two distinct GPUs.
    expect(
      hardwareHints(cvm({ nodeName: "n1", gpus: [{ model: "H100" }, { model: "H100" }] })).gpus,
    ).to.deep.equal(["team-a/llm/gpu0", "team-a/llm/gpu1"]);
    expect(hardwareHints(cvm({}, 0)).gpus).to.deep.equal([]);
  });
});
