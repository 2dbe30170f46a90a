import { mkdir, open, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { CompactSign, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from "jose";
import type {
  ConfidentialHostStatus,
  ConfidentialHostStatusReportPublicKey,
} from "../api/v1alpha1/generated/types.ts";
import { hostReportPayload } from "../host/host-report.ts";
import { HOST_REPORT_ALG, HOST_REPORT_JWS_TYPE, hostReportKeyId } from "../host/verify-host-report.ts";

export const DEFAULT_KEY_FILE = "/var/lib/trustgate/agent-key.jwk";

/** The agent's per-node signing key. The private half never leaves this object or its file. */
export interface AgentKey {
  keyId: string;
  publicKey: ConfidentialHostStatusReportPublicKey;
  privateKey: CryptoKey;
}

export interface LoadedKey {
  key: AgentKey;
  created: boolean;
  /** The file is readable by group or others (a Secret volume without defaultMode 0400, say). */
  looseMode: boolean;
}

function isP256PrivateJwk(value: unknown): value is JWK & { x: string; y: string; d: string } {
  const jwk = value as Record<string, unknown> | null;
  return (
    typeof jwk === "object" &&
    jwk !== null &&
    jwk["kty"] === "EC" &&
    jwk["crv"] === "P-256" &&
    typeof jwk["x"] === "string" &&
    typeof jwk["y"] === "string" &&
    typeof jwk["d"] === "string"
  );
}

async function agentKeyFrom(jwk: JWK & { x: string; y: string; d: string }): Promise<AgentKey> {
  const keyId = await hostReportKeyId({ kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y });
  const privateKey = await importJWK(
    { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y, d: jwk.d },
    HOST_REPORT_ALG,
  );
  if (privateKey instanceof Uint8Array) throw new Error("agent key is not an EC key");
  return {
    keyId,
    publicKey: { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y, kid: keyId, alg: "ES256", use: "sig" },
    privateKey,
  };
}

async function readKeyFile(path: string): Promise<AgentKey> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, "utf8"));
  } catch (error) {
    throw new Error(`agent key file ${path} is not a JSON Web Key`, { cause: error });
  }
  if (!isP256PrivateJwk(parsed)) throw new Error(`agent key file ${path} is not an EC P-256 private JWK`);
  return agentKeyFrom(parsed);
}

/**
 * Loads the per-node key, creating it (mode 0600, directory 0700) on first start. An unreadable
 * or malformed file is an error, never a reason to make a new key: a new key makes the host
 * controller withhold Validated until an admin acknowledges the change.
 */
export async function loadOrCreateAgentKey(path: string): Promise<LoadedKey> {
  try {
    const handle = await open(path, "r");
    const { mode } = await handle.stat();
    await handle.close();
    return { key: await readKeyFile(path), created: false, looseMode: (mode & 0o077) !== 0 };
  } catch (error) {
    if ((error as { code?: unknown }).code !== "ENOENT") throw error;
  }
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const { privateKey } = await generateKeyPair(HOST_REPORT_ALG, { extractable: true });
  const jwk = await exportJWK(privateKey);
  if (!isP256PrivateJwk(jwk)) throw new Error("generated key is not an EC P-256 JWK");
  const key = await agentKeyFrom(jwk);
  let handle;
  try {
    // "wx": if another agent process created the file meanwhile, use that one instead.
    handle = await open(path, "wx", 0o600);
  } catch (error) {
    if ((error as { code?: unknown }).code === "EEXIST")
      return { key: await readKeyFile(path), created: false, looseMode: false };
    throw error;
  }
  try {
    await handle.writeFile(
      `${JSON.stringify({ ...jwk, kid: key.keyId, alg: HOST_REPORT_ALG, use: "sig" })}\n`,
    );
    await handle.sync();
  } finally {
    await handle.close();
  }
  return { key, created: true, looseMode: false };
}

/** The status with status.report: a compact JWS (ES256) over hostReportPayload(nodeName, status). */
export async function signHostReport(
  nodeName: string,
  status: ConfidentialHostStatus,
  key: AgentKey,
): Promise<ConfidentialHostStatus> {
  const unsigned: ConfidentialHostStatus = { ...status };
  delete unsigned.report;
  const payload = new TextEncoder().encode(hostReportPayload(nodeName, unsigned));
  const jws = await new CompactSign(payload)
    .setProtectedHeader({ alg: HOST_REPORT_ALG, kid: key.keyId, typ: HOST_REPORT_JWS_TYPE })
    .sign(key.privateKey);
  return { ...unsigned, report: { jws, keyId: key.keyId, publicKey: { ...key.publicKey } } };
}
