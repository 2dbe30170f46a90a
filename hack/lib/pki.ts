import { execFile } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** Paths of the PEM files a local control plane needs. */
export interface ControlPlanePki {
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  adminCert: string;
  adminKey: string;
  serviceAccountKey: string;
  serviceAccountPublicKey: string;
}

const VALID_DAYS = "7";

// Extension sections picked per certificate with -extensions; [dn] stays empty because -subj sets it.
const OPENSSL_CONFIG = `[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[serving]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
`;

/** Writes an EC P-256 key pair (PKCS#8 private key, SPKI public key) readable only by the owner. */
async function writeKeyPair(privatePath: string, publicPath?: string): Promise<void> {
  const { privateKey, publicKey } = generateKeyPairSync("ec", {
    namedCurve: "prime256v1",
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  await writeFile(privatePath, privateKey, { mode: 0o600 });
  if (publicPath !== undefined) await writeFile(publicPath, publicKey);
}

async function openssl(args: string[]): Promise<void> {
  try {
    await execFileAsync("openssl", args);
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? "";
    throw new Error(`openssl ${args.join(" ")} failed: ${(error as Error).message}\n${stderr}`);
  }
}

function randomSerial(): string {
  // Positive 64-bit serial: clearing the top bit keeps the DER integer from being read as negative.
  const bytes = randomBytes(8);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return `0x${bytes.toString("hex")}`;
}

async function signLeaf(
  config: string,
  files: ControlPlanePki,
  leaf: { key: string; cert: string; subject: string; extensions: "serving" | "client" },
): Promise<void> {
  await writeKeyPair(leaf.key);
  await openssl([
    ...["req", "-x509", "-new", "-config", config, "-extensions", leaf.extensions],
    ...["-key", leaf.key, "-CA", files.caCert, "-CAkey", files.caKey, "-set_serial", randomSerial()],
    ...["-subj", leaf.subject, "-days", VALID_DAYS, "-sha256", "-out", leaf.cert],
  ]);
}

/**
 * Creates a short-lived CA, the apiserver serving certificate (127.0.0.1 and localhost), an admin
 * client certificate in group system:masters and the service-account signing key under pkiDir.
 */
export async function generateControlPlanePki(pkiDir: string): Promise<ControlPlanePki> {
  await mkdir(pkiDir, { recursive: true, mode: 0o700 });
  const at = (name: string): string => join(pkiDir, name);
  const files: ControlPlanePki = {
    caCert: at("ca.crt"),
    caKey: at("ca.key"),
    servingCert: at("apiserver.crt"),
    servingKey: at("apiserver.key"),
    adminCert: at("admin.crt"),
    adminKey: at("admin.key"),
    serviceAccountKey: at("sa.key"),
    serviceAccountPublicKey: at("sa.pub"),
  };
  const config = at("openssl.cnf");
  await writeFile(config, OPENSSL_CONFIG);

  await writeKeyPair(files.caKey);
  await openssl([
    ...["req", "-x509", "-new", "-config", config, "-extensions", "ca", "-key", files.caKey],
    ...["-subj", "/CN=trustgate-local-ca", "-days", VALID_DAYS, "-sha256", "-out", files.caCert],
  ]);
  await Promise.all([
    signLeaf(config, files, {
      key: files.servingKey,
      cert: files.servingCert,
      subject: "/CN=kube-apiserver",
      extensions: "serving",
    }),
    signLeaf(config, files, {
      key: files.adminKey,
      cert: files.adminCert,
      subject: "/O=system:masters/CN=admin",
      extensions: "client",
    }),
    writeKeyPair(files.serviceAccountKey, files.serviceAccountPublicKey),
  ]);
  return files;
}
