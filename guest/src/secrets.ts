/**
 * Released secrets: each `status.releasedSecrets[]` entry is a compact JWE (ECDH-ES+A256KW, A256GCM), sealed to the
 * guest's current key, of a JWT the operator signed (ES256, a key of its JWKS pinned in the image) whose `data` maps
 * each Secret key to the value's bytes in standard base64. Anyone holding the guest's public key can seal data to it,
 * so the guest accepts only what the operator signed for its CVM (`sub`), its key (`jkt`) and that Secret (`name`).
 * Opened secrets become files
 * `<secrets dir>/<secret name>/<key>` holding exactly those bytes (mode 0400, directories 0700; a tmpfs in the CVM),
 * each written to a temporary file and renamed into place, so a reader never sees half a value. Values never reach
 * a log.
 */
import { randomBytes } from "node:crypto";
import { mkdir, open, readdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { compactDecrypt, decodeProtectedHeader, type JWTPayload } from "jose";
import {
  RELEASED_SECRET_TYPE,
  type ReleasedSecretClaims,
} from "../../operator/src/attestation/result/secret-release.ts";
import type { GuestKey } from "./guest-key.ts";
import { verifyOperatorJwt, type OperatorTrust } from "./operator-trust.ts";

const SECRET_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
// Kubernetes forbids keys starting with "..", so these temporary names never collide with a key.
const TEMP_PREFIX = "..tmp-";

export class SealedToAnotherKeyError extends Error {}

export function validSecretName(name: string): boolean {
  return name.length <= 253 && SECRET_NAME.test(name);
}

export function validSecretKey(key: string): boolean {
  return key.length <= 253 && SECRET_KEY.test(key) && !key.startsWith("..") && key !== ".";
}

/** The operator's signed claims inside a released secret, checked against what this guest expects. */
async function verifiedRelease(
  signed: string,
  name: string,
  key: GuestKey,
  trust: OperatorTrust,
): Promise<ReleasedSecretClaims> {
  let claims: ReleasedSecretClaims;
  try {
    claims = await verifyOperatorJwt<ReleasedSecretClaims & JWTPayload>(signed, trust, {
      typ: RELEASED_SECRET_TYPE,
      requiredClaims: ["iss", "sub", "iat"],
    });
  } catch (error) {
    throw new Error(`the secret is not signed by the operator for this CVM: ${(error as Error).message}`);
  }
  if (claims.name !== name) throw new Error(`the operator released it as ${JSON.stringify(claims.name)}`);
  if (claims.jkt !== key.thumbprint) throw new Error(`the operator released it to key ${claims.jkt}`);
  return claims;
}

/**
 * Opens the released secret `name`: decrypts it with `key`, then verifies the operator's signature and claims;
 * throws SealedToAnotherKeyError when the JWE's `kid` names another key.
 */
export async function openReleasedSecret(
  jwe: string,
  name: string,
  key: GuestKey,
  trust: OperatorTrust,
): Promise<Record<string, Buffer>> {
  const header = decodeProtectedHeader(jwe);
  if (header.kid !== undefined && header.kid !== key.thumbprint)
    throw new SealedToAnotherKeyError(
      `sealed to key ${header.kid}, not to the current key ${key.thumbprint}`,
    );
  if (header.cty !== RELEASED_SECRET_TYPE)
    throw new Error(
      `the secret's content type is ${JSON.stringify(header.cty)}, not ${RELEASED_SECRET_TYPE}`,
    );
  const { plaintext } = await compactDecrypt(jwe, key.privateKey, {
    keyManagementAlgorithms: ["ECDH-ES+A256KW"],
    contentEncryptionAlgorithms: ["A256GCM"],
  });
  // Signed by the operator, but still checked: a claim's shape is what the JSON says, not what the type says.
  const data: unknown = (await verifiedRelease(new TextDecoder().decode(plaintext), name, key, trust)).data;
  if (typeof data !== "object" || data === null || Array.isArray(data))
    throw new Error("the released secret's data is not a JSON object");
  const entries = Object.entries(data as Record<string, unknown>);
  for (const [name, value] of entries) {
    if (typeof value !== "string" || !BASE64.test(value))
      throw new Error(`the decrypted secret's key ${JSON.stringify(name)} is not a base64 string`);
  }
  return Object.fromEntries(entries.map(([name, value]) => [name, Buffer.from(value as string, "base64")]));
}

async function writeAtomically(dir: string, file: string, value: Uint8Array): Promise<void> {
  const temp = join(dir, `${TEMP_PREFIX}${randomBytes(8).toString("hex")}`);
  const handle = await open(temp, "wx", 0o400);
  try {
    await handle.writeFile(value);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, join(dir, file));
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/**
 * Writes one secret's keys into `<root>/<name>/` and removes files of keys it no longer has, like a kubelet
 * Secret volume. Returns the keys written.
 */
export async function writeSecretFiles(
  root: string,
  name: string,
  data: Readonly<Record<string, Uint8Array>>,
): Promise<string[]> {
  if (!validSecretName(name))
    throw new Error(`secret name ${JSON.stringify(name)} is not a valid Secret name`);
  const keys = Object.keys(data);
  const invalid = keys.filter((key) => !validSecretKey(key));
  if (invalid.length > 0)
    throw new Error(`secret ${name} has invalid keys: ${invalid.map((k) => JSON.stringify(k)).join(", ")}`);
  await mkdir(root, { recursive: true, mode: 0o700 });
  const dir = join(root, name);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  for (const key of keys) await writeAtomically(dir, key, data[key] ?? new Uint8Array());
  for (const entry of await readdir(dir)) {
    if (!keys.includes(entry)) await rm(join(dir, entry), { force: true });
  }
  return keys;
}
