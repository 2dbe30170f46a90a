import { expect } from "chai";
import {
  calculateJwkThumbprint,
  compactDecrypt,
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  jwtVerify,
} from "jose";
import { checkAttestationResult, signAttestationResult, type ResultInput } from "./result-token.ts";
import { RELEASED_SECRET_TYPE, sealSecretForGuest } from "./secret-release.ts";
import {
  activeKey,
  generateSigningKey,
  publicJwks,
  rotateSigningKeys,
  type StoredSigningKey,
} from "./signing-keys.ts";

const T0 = new Date("2026-11-25T10:00:00Z");
const HOUR = 3_600_000;

function input(overrides: Partial<ResultInput> = {}): ResultInput {
  return {
    issuer: "https://trustgate.example/",
    subject: "team-a/llm-inference",
    nonce: "5e".repeat(32),
    guestKeyThumbprint: "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs",
    verdict: "affirming",
    submods: { cpu: { "ear.status": "affirming", claims: { type: "tdx", mrTd: "ab".repeat(48) } } },
    issuedAt: T0,
    expiresAt: new Date(T0.getTime() + 2 * HOUR),
    ...overrides,
  };
}

describe("attestation results", () => {
  let key: StoredSigningKey;
  before(async () => {
    key = await generateSigningKey(T0);
  });

  it("signs a result a client verifies offline with the operator's JWKS", async () => {
    const token = await signAttestationResult(input(), key);
    const check = await checkAttestationResult(token, publicJwks([key]), {
      now: new Date(T0.getTime() + HOUR),
      issuer: "https://trustgate.example/",
    });
    expect(check.ok).to.equal(true);
    if (check.ok) {
      expect(check.claims.sub).to.equal("team-a/llm-inference");
      expect(check.claims.cnf.jkt).to.equal("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
      expect(check.claims.submods["cpu"]?.claims["type"]).to.equal("tdx");
    }
  });

  const refusals: [
    string,
    () => Promise<{ token: string; now: Date; keys?: StoredSigningKey[]; issuer?: string }>,
    RegExp,
  ][] = [
    [
      "an expired result",
      async () => ({
        token: await signAttestationResult(input(), key),
        now: new Date(T0.getTime() + 3 * HOUR),
      }),
      /exp/,
    ],
    [
      "a result that is only a warning",
      async () => ({ token: await signAttestationResult(input({ verdict: "warning" }), key), now: T0 }),
      /warning, not affirming/,
    ],
    [
      "a result signed by a key outside the JWKS",
      async () => ({ token: await signAttestationResult(input(), await generateSigningKey(T0)), now: T0 }),
      /no applicable key|key/i,
    ],
    [
      "a result from another issuer",
      async () => ({
        token: await signAttestationResult(input({ issuer: "https://evil.example/" }), key),
        now: T0,
        issuer: "https://trustgate.example/",
      }),
      /iss/,
    ],
    [
      "a tampered payload",
      async () => {
        const [h, p, s] = (await signAttestationResult(input({ verdict: "warning" }), key)).split(".");
        const payload = JSON.parse(Buffer.from(p ?? "", "base64url").toString()) as Record<string, unknown>;
        payload["ear.status"] = "affirming";
        return {
          token: [h, Buffer.from(JSON.stringify(payload)).toString("base64url"), s].join("."),
          now: T0,
        };
      },
      /signature/,
    ],
  ];
  for (const [name, make, reason] of refusals) {
    it(`refuses ${name}`, async () => {
      const { token, now, keys, issuer } = await make();
      const check = await checkAttestationResult(token, publicJwks(keys ?? [key]), {
        now,
        ...(issuer === undefined ? {} : { issuer }),
      });
      expect(check.ok).to.equal(false);
      if (!check.ok) expect(check.reason).to.match(reason);
    });
  }

  it("rotates keys with overlap: old results verify until their key leaves the set", async () => {
    const policy = { rotateAfterMs: 24 * HOUR, retainAfterRotationMs: 4 * HOUR };
    const day1 = await rotateSigningKeys([], T0, policy);
    const oldToken = await signAttestationResult(input(), activeKey(day1) as StoredSigningKey);
    const day2 = await rotateSigningKeys(day1, new Date(T0.getTime() + 25 * HOUR), policy);
    expect(day2).to.have.length(2);
    expect(activeKey(day2)?.kid).to.not.equal(activeKey(day1)?.kid);
    expect(await rotateSigningKeys(day2, new Date(T0.getTime() + 26 * HOUR), policy)).to.equal(day2);
    const later = await rotateSigningKeys(day2, new Date(T0.getTime() + 30 * HOUR), policy);
    expect(later.map((k) => k.kid)).to.deep.equal([activeKey(day2)?.kid]);
    const stillValid = await checkAttestationResult(oldToken, publicJwks(day2), {
      now: new Date(T0.getTime() + HOUR),
    });
    expect(stillValid.ok).to.equal(true);
    const gone = await checkAttestationResult(oldToken, publicJwks(later), {
      now: new Date(T0.getTime() + HOUR),
    });
    expect(gone.ok).to.equal(false);
  });

  it("publishes no private key material in the JWKS", () => {
    for (const jwk of publicJwks([key]).keys) expect(jwk).to.not.have.property("d");
  });
});

describe("secret release", () => {
  it("seals a Secret's data so that only the attested guest key opens it", async () => {
    const guest = await generateKeyPair("ECDH-ES+A256KW", { extractable: true });
    const jwk = await exportJWK(guest.publicKey);
    const publicJwk = { kty: "EC" as const, crv: "P-256" as const, x: jwk.x ?? "", y: jwk.y ?? "" };
    const thumbprint = await calculateJwkThumbprint(publicJwk, "sha256");
    const binary = Buffer.from([0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28]);
    const operator = await generateSigningKey(T0);
    const jwe = await sealSecretForGuest(
      { token: Buffer.from("hf_secret"), blob: binary },
      publicJwk,
      thumbprint,
      {
        issuer: "trustgate",
        subject: "team-a/llm",
        secretName: "model",
        nonce: "11".repeat(32),
        signingKey: operator,
        now: T0,
      },
    );
    const opened = await compactDecrypt(jwe, guest.privateKey);
    expect(opened.protectedHeader).to.include({
      alg: "ECDH-ES+A256KW",
      enc: "A256GCM",
      kid: thumbprint,
      cty: RELEASED_SECRET_TYPE,
    });
    // Inside: the operator's signature over who gets what.
    const { payload, protectedHeader } = await jwtVerify(
      new TextDecoder().decode(opened.plaintext),
      createLocalJWKSet(publicJwks([operator])),
      { typ: RELEASED_SECRET_TYPE, subject: "team-a/llm" },
    );
    expect(protectedHeader.kid).to.equal(operator.kid);
    expect(payload).to.deep.include({
      name: "model",
      jkt: thumbprint,
      data: { token: Buffer.from("hf_secret").toString("base64"), blob: "//4AgMMo" },
    });
    const other = await generateKeyPair("ECDH-ES+A256KW");
    let failed = false;
    await compactDecrypt(jwe, other.privateKey).catch(() => (failed = true));
    expect(failed, "another key cannot open it").to.equal(true);
  });
});
