import { expect } from "chai";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  RELEASED_SECRET_CONTENT_TYPE,
  sealSecretForGuest,
} from "../../operator/src/attestation/result/secret-release.ts";
import { newGuestKey, type GuestKey } from "./guest-key.ts";
import { openReleasedSecret, SealedToAnotherKeyError, validSecretKey, writeSecretFiles } from "./secrets.ts";

/** Text values as their UTF-8 bytes. */
const bytes = (data: Record<string, string>): Record<string, Buffer> =>
  Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v)]));
const seal = (data: Record<string, string>, key: GuestKey, kid = key.thumbprint): Promise<string> =>
  sealSecretForGuest(bytes(data), key.publicJwk, kid);

describe("released secrets", () => {
  let dir: string;
  let key: GuestKey;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "trustgate-guest-secrets-"));
    key = await newGuestKey();
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("opens a JWE sealed to the guest key (the controller's sealSecretForGuest)", async () => {
    const jwe = await seal({ token: "hf_secret", "config.json": '{"a":1}' }, key);
    expect(await openReleasedSecret(jwe, key)).to.deep.equal(
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
    );
    const opened = await openReleasedSecret(jwe, key);
    expect(opened["weights.key"]?.equals(binary)).to.equal(true);
    await writeSecretFiles(dir, "model", opened);
    expect((await readFile(join(dir, "model", "weights.key"))).equals(binary)).to.equal(true);
    expect((await readFile(join(dir, "model", "empty"))).length).to.equal(0);
  });

  it("refuses a JWE whose kid names another key, and one it cannot decrypt", async () => {
    const other = await newGuestKey();
    let error: unknown;
    await openReleasedSecret(await seal({ a: "b" }, other), key).catch((e: unknown) => (error = e));
    expect(error).to.be.instanceOf(SealedToAnotherKeyError);
    error = undefined;
    // Sealed to another key but labelled with ours: decryption itself fails.
    await openReleasedSecret(await seal({ a: "b" }, other, key.thumbprint), key).catch(
      (e: unknown) => (error = e),
    );
    expect(error).to.be.instanceOf(Error).and.not.instanceOf(SealedToAnotherKeyError);
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

  it("refuses a decrypted payload that is not an object of base64 strings, or of another content type", async () => {
    const { CompactEncrypt, importJWK } = await import("jose");
    const encryptionKey = await importJWK({ ...key.publicJwk, alg: "ECDH-ES+A256KW" }, "ECDH-ES+A256KW");
    const sealRaw = (text: string, cty: string = RELEASED_SECRET_CONTENT_TYPE): Promise<string> =>
      new CompactEncrypt(new TextEncoder().encode(text))
        .setProtectedHeader({ alg: "ECDH-ES+A256KW", enc: "A256GCM", kid: key.thumbprint, cty })
        .encrypt(encryptionKey);
    for (const [jwe, message] of [
      [await sealRaw("[1]"), "not a JSON object"],
      [await sealRaw('{"a":1}'), 'key "a" is not a base64 string'],
      [await sealRaw('{"a":"not base64!"}'), 'key "a" is not a base64 string'],
      [await sealRaw('{"a":"YQ"}'), 'key "a" is not a base64 string'],
      [await sealRaw("nope"), "not JSON"],
      [await sealRaw('{"a":"YQ=="}', "trustgate-secret+json"), "content type"],
    ] as const) {
      let error: unknown;
      await openReleasedSecret(jwe, key).catch((e: unknown) => (error = e));
      expect(String(error)).to.include(message);
    }
  });
});
