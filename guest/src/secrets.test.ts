import { expect } from "chai";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CompactEncrypt, importJWK, SignJWT } from "jose";
import {
  RELEASED_SECRET_TYPE,
  sealSecretForGuest,
  type ReleaseContext,
} from "../../operator/src/attestation/result/secret-release.ts";
import {
  generateSigningKey,
  publicJwks,
  signingKeyObject,
  type StoredSigningKey,
} from "../../operator/src/attestation/result/signing-keys.ts";
import { newGuestKey, type GuestKey } from "./guest-key.ts";
import { openReleasedSecret, SealedToAnotherKeyError, validSecretKey, writeSecretFiles } from "./secrets.ts";
import type { OperatorTrust } from "./operator-trust.ts";

const NOW = new Date("2026-11-25T10:00:00Z");
const CVM = "team-a/llm";

/** Text values as their UTF-8 bytes. */
const bytes = (data: Record<string, string>): Record<string, Buffer> =>
  Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v)]));

describe("released secrets", () => {
  let dir: string;
  let key: GuestKey;
  let operator: StoredSigningKey;
  let trust: OperatorTrust;

  const release = (secretName = "model", over: Partial<ReleaseContext> = {}): ReleaseContext => ({
    issuer: "https://trustgate.example/",
    subject: CVM,
    secretName,
    nonce: "11".repeat(32),
    signingKey: operator,
    now: NOW,
    ...over,
  });
  const seal = (
    data: Record<string, string>,
    to: GuestKey,
    kid = to.thumbprint,
    name = "model",
  ): Promise<string> => sealSecretForGuest(bytes(data), to.publicJwk, kid, release(name));

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "trustgate-guest-secrets-"));
    key = await newGuestKey();
    operator = await generateSigningKey(NOW);
    trust = { jwks: publicJwks([operator]), subject: CVM };
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("opens a JWE sealed to the guest key and signed by the operator (the controller's sealSecretForGuest)", async () => {
    const jwe = await seal({ token: "hf_secret", "config.json": '{"a":1}' }, key);
    expect(await openReleasedSecret(jwe, "model", key, trust)).to.deep.equal(
      bytes({ token: "hf_secret", "config.json": '{"a":1}' }),
    );
  });

  it("keeps binary values byte-exact from the Secret to the file (no UTF-8 decoding anywhere)", async () => {
    // Invalid UTF-8 (lone continuation bytes, an overlong NUL, a truncated sequence) and every byte value.
    const binary = Buffer.concat([
      Buffer.from([0x80, 0xc0, 0x80, 0xff, 0xfe, 0xe2, 0x82]),
      Buffer.from([...Array(256).keys()]),
    ]);
    const jwe = await sealSecretForGuest(
      { "weights.key": binary, empty: new Uint8Array() },
      key.publicJwk,
      key.thumbprint,
      release(),
    );
    const opened = await openReleasedSecret(jwe, "model", key, trust);
    expect(opened["weights.key"]?.equals(binary)).to.equal(true);
    await writeSecretFiles(dir, "model", opened);
    expect((await readFile(join(dir, "model", "weights.key"))).equals(binary)).to.equal(true);
    expect((await readFile(join(dir, "model", "empty"))).length).to.equal(0);
  });

  it("refuses a JWE whose kid names another key, and one it cannot decrypt", async () => {
    const other = await newGuestKey();
    let error: unknown;
    await openReleasedSecret(await seal({ a: "b" }, other), "model", key, trust).catch(
      (e: unknown) => (error = e),
    );
    expect(error).to.be.instanceOf(SealedToAnotherKeyError);
    error = undefined;
    // Sealed to another key but labelled with ours: decryption itself fails.
    await openReleasedSecret(await seal({ a: "b" }, other, key.thumbprint), "model", key, trust).catch(
      (e: unknown) => (error = e),
    );
    expect(error).to.be.instanceOf(Error).and.not.instanceOf(SealedToAnotherKeyError);
  });

  it("refuses what the operator did not sign for this CVM, this key and this Secret", async () => {
    const encryptionKey = await importJWK({ ...key.publicJwk, alg: "ECDH-ES+A256KW" }, "ECDH-ES+A256KW");
    const sealText = (text: string): Promise<string> =>
      new CompactEncrypt(new TextEncoder().encode(text))
        .setProtectedHeader({
          alg: "ECDH-ES+A256KW",
          enc: "A256GCM",
          kid: key.thumbprint,
          cty: RELEASED_SECRET_TYPE,
        })
        .encrypt(encryptionKey);
    const stranger = await generateSigningKey(NOW);
    const cases: [string, () => Promise<string>, string][] = [
      [
        "unsigned data sealed by anyone holding the guest's public key",
        () => sealText('{"a":"YQ=="}'),
        "not signed by the operator",
      ],
      [
        "signed by a key the guest does not pin",
        () =>
          sealSecretForGuest(
            bytes({ a: "b" }),
            key.publicJwk,
            key.thumbprint,
            release("model", { signingKey: stranger }),
          ),
        "not signed by the operator",
      ],
      [
        "released to another CVM",
        () =>
          sealSecretForGuest(
            bytes({ a: "b" }),
            key.publicJwk,
            key.thumbprint,
            release("model", { subject: "team-b/other" }),
          ),
        "not signed by the operator for this CVM",
      ],
      [
        "released under another Secret's name",
        () => seal({ a: "b" }, key, key.thumbprint, "other-secret"),
        'released it as "other-secret"',
      ],
    ];
    for (const [name, make, message] of cases) {
      let error: unknown;
      await openReleasedSecret(await make(), "model", key, trust).catch((e: unknown) => (error = e));
      expect(String(error), name).to.include(message);
    }
  });

  it("writes each key as a 0400 file in a 0700 directory, leaving no temporary files", async () => {
    const keys = await writeSecretFiles(
      dir,
      "model-credentials",
      bytes({ token: "hf_secret", ".hidden": "x" }),
    );
    expect(keys).to.deep.equal(["token", ".hidden"]);
    const secretDir = join(dir, "model-credentials");
    expect((await stat(secretDir)).mode & 0o777).to.equal(0o700);
    expect((await stat(join(secretDir, "token"))).mode & 0o777).to.equal(0o400);
    expect(await readFile(join(secretDir, "token"), "utf8")).to.equal("hf_secret");
    expect((await readdir(secretDir)).sort()).to.deep.equal([".hidden", "token"]);
  });

  it("replaces values atomically and removes keys the new release no longer has", async () => {
    await writeSecretFiles(dir, "db", bytes({ user: "a", password: "old" }));
    await writeSecretFiles(dir, "db", bytes({ password: "new" }));
    expect(await readdir(join(dir, "db"))).to.deep.equal(["password"]);
    expect(await readFile(join(dir, "db", "password"), "utf8")).to.equal("new");
    expect((await stat(join(dir, "db", "password"))).mode & 0o777).to.equal(0o400);
  });

  it("refuses names and keys that could leave the secrets directory", async () => {
    for (const [name, data] of [
      ["../etc", { a: "b" }],
      ["db", { "../passwd": "x" }],
      ["db", { "..data": "x" }],
      ["db", { "a/b": "x" }],
      ["Upper", { a: "b" }],
    ] as const) {
      let error: unknown;
      await writeSecretFiles(dir, name, bytes(data)).catch((e: unknown) => (error = e));
      expect(error, `${name} ${JSON.stringify(data)}`).to.be.instanceOf(Error);
    }
    expect(await readdir(dir)).to.deep.equal([]);
    expect([".", "..", "..x", "a/b", ""].map(validSecretKey)).to.deep.equal([
      false,
      false,
      false,
      false,
      false,
    ]);
    expect(["a", ".a", "a.b-c_D"].map(validSecretKey)).to.deep.equal([true, true, true]);
  });

  it("refuses signed data that is not an object of base64 strings, or of another content type", async () => {
    const encryptionKey = await importJWK({ ...key.publicJwk, alg: "ECDH-ES+A256KW" }, "ECDH-ES+A256KW");
    const signedRaw = async (data: unknown, cty: string = RELEASED_SECRET_TYPE): Promise<string> => {
      const jws = await new SignJWT({ name: "model", nonce: "", jkt: key.thumbprint, data })
        .setProtectedHeader({ alg: "ES256", kid: operator.kid, typ: RELEASED_SECRET_TYPE })
        .setIssuer("https://trustgate.example/")
        .setSubject(CVM)
        .setIssuedAt()
        .sign(await signingKeyObject(operator));
      return new CompactEncrypt(new TextEncoder().encode(jws))
        .setProtectedHeader({ alg: "ECDH-ES+A256KW", enc: "A256GCM", kid: key.thumbprint, cty })
        .encrypt(encryptionKey);
    };
    for (const [jwe, message] of [
      [await signedRaw([1]), "not a JSON object"],
      [await signedRaw({ a: 1 }), 'key "a" is not a base64 string'],
      [await signedRaw({ a: "not base64!" }), 'key "a" is not a base64 string'],
      [await signedRaw({ a: "YQ" }), 'key "a" is not a base64 string'],
      [await signedRaw({ a: "YQ==" }, "trustgate-secret-data+json"), "content type"],
    ] as const) {
      let error: unknown;
      await openReleasedSecret(jwe, "model", key, trust).catch((e: unknown) => (error = e));
      expect(String(error)).to.include(message);
    }
  });
});
