/**
 * The guest's configuration, delivered by cloud-init as JSON (default /etc/trustgate/guest.json): where the API
 * server is, the CA that signs its certificate, the ConfidentialVM this guest is, and the file holding its
 * ServiceAccount token (re-read on every request, because the controller renews it). Schema:
 * guest/guest-config.schema.json.
 */
import { X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { isAbsolute } from "node:path";
import type { KubeConnection } from "../../operator/src/kube/rest-connection.ts";

export const DEFAULT_CONFIG_FILE = "/etc/trustgate/guest.json";
export const DEFAULT_TOKEN_FILE = "/var/run/trustgate/token";

export interface GuestConfig {
  apiServer: string;
  /** PEM certificates (decoded from the file's base64 `caData`). */
  caPem: string;
  namespace: string;
  name: string;
  tokenFile: string;
}

const FIELDS = ["apiServer", "caData", "namespace", "name", "tokenFile"] as const;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export class GuestConfigError extends Error {
  readonly problems: string[];
  constructor(source: string, problems: string[]) {
    super(`guest config ${source}: ${problems.join("; ")}`);
    this.name = "GuestConfigError";
    this.problems = problems;
  }
}

type Check = (value: string) => string | undefined;

const checks: Record<(typeof FIELDS)[number], Check> = {
  apiServer: (value) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return `apiServer ${JSON.stringify(value)} is not a URL`;
    }
    return url.protocol === "https:" ? undefined : `apiServer ${JSON.stringify(value)} must be an https URL`;
  },
  caData: (value) => {
    const compact = value.replace(/\s+/g, "");
    if (compact.length % 4 !== 0 || !BASE64.test(compact)) return "caData is not base64";
    const pem = Buffer.from(compact, "base64").toString("utf8");
    if (!pem.includes("-----BEGIN CERTIFICATE-----")) return "caData does not decode to PEM certificates";
    try {
      new X509Certificate(pem);
    } catch {
      return "caData holds a PEM block that is not a valid certificate";
    }
    return undefined;
  },
  namespace: (value) =>
    DNS_LABEL.test(value) ? undefined : `namespace ${JSON.stringify(value)} is not a valid namespace name`,
  name: (value) =>
    value.length <= 253 && DNS_SUBDOMAIN.test(value)
      ? undefined
      : `name ${JSON.stringify(value)} is not a valid ConfidentialVM name`,
  tokenFile: (value) =>
    isAbsolute(value) ? undefined : `tokenFile ${JSON.stringify(value)} must be an absolute path`,
};

/** Checks a parsed config document; every problem is named at once. */
export function validateGuestConfig(document: unknown, source: string): GuestConfig {
  if (typeof document !== "object" || document === null || Array.isArray(document))
    throw new GuestConfigError(source, ["must be a JSON object"]);
  const fields = document as Record<string, unknown>;
  const problems: string[] = [];
  for (const key of Object.keys(fields)) {
    if (!(FIELDS as readonly string[]).includes(key))
      problems.push(`unknown field ${JSON.stringify(key)} (known: ${FIELDS.join(", ")})`);
  }
  const values: Partial<Record<(typeof FIELDS)[number], string>> = {};
  for (const key of FIELDS) {
    const value = key === "tokenFile" ? (fields[key] ?? DEFAULT_TOKEN_FILE) : fields[key];
    if (value === undefined || value === "") {
      problems.push(`${key} is required`);
    } else if (typeof value !== "string") {
      problems.push(`${key} must be a string`);
    } else {
      const problem = checks[key](value);
      if (problem === undefined) values[key] = value;
      else problems.push(problem);
    }
  }
  const { apiServer, caData, namespace, name, tokenFile } = values;
  if (problems.length > 0 || !apiServer || !caData || !namespace || !name || !tokenFile)
    throw new GuestConfigError(source, problems);
  const caPem = Buffer.from(caData.replace(/\s+/g, ""), "base64").toString("utf8");
  return { apiServer, caPem, namespace, name, tokenFile };
}

export async function loadGuestConfig(path: string): Promise<GuestConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new GuestConfigError(path, [`cannot be read: ${(error as Error).message}`]);
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new GuestConfigError(path, [`is not JSON: ${(error as Error).message}`]);
  }
  return validateGuestConfig(document, path);
}

/** How the guest reaches the API server: TLS verified against the configured CA, bearer token from the file. */
export function guestConnection(config: GuestConfig, source: string): KubeConnection {
  return {
    server: config.apiServer,
    ca: config.caPem,
    bearer: { tokenFile: config.tokenFile },
    namespace: config.namespace,
    source,
  };
}
