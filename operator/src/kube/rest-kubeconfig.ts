// kubeconfig files → a KubeConnection for the light client (rest-client.ts); kubeconfig.ts is client-node's.
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { httpsServer, type BearerToken, type KubeConnection } from "./rest-connection.ts";

type Fields = Record<string, unknown>;

/** A named cluster, user or context, with the folder of its file for resolving relative paths. */
interface Entry {
  fields: Fields;
  dir: string;
}

/** One or more kubeconfig files merged as kubectl merges them: the first file naming an entry wins. */
export interface Kubeconfig {
  files: string[];
  currentContext: string | undefined;
  clusters: Map<string, Entry>;
  users: Map<string, Entry>;
  contexts: Map<string, Entry>;
}

// Authentication the agent does not implement: refusing them beats connecting as someone else.
const UNSUPPORTED_USER_FIELDS = [
  "exec",
  "auth-provider",
  "username",
  "password",
  "as",
  "as-uid",
  "as-groups",
  "as-user-extra",
];

function isFields(value: unknown): value is Fields {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function text(fields: Fields, key: string, where: string): string | undefined {
  const value = fields[key];
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") throw new Error(`${where}: ${key} must be a string`);
  return value;
}

function addEntries(
  into: Map<string, Entry>,
  doc: Fields,
  list: "clusters" | "users" | "contexts",
  item: "cluster" | "user" | "context",
  file: string,
): void {
  const entries = doc[list] ?? [];
  if (!Array.isArray(entries)) throw new Error(`kubeconfig ${file}: ${list} must be a list`);
  for (const entry of entries as unknown[]) {
    if (!isFields(entry) || typeof entry["name"] !== "string")
      throw new Error(`kubeconfig ${file}: every entry of ${list} needs a name`);
    const fields = entry[item] ?? {};
    if (!isFields(fields)) throw new Error(`kubeconfig ${file}: ${item} ${entry["name"]} must be a map`);
    if (!into.has(entry["name"])) into.set(entry["name"], { fields, dir: dirname(resolve(file)) });
  }
}

/** Parses and merges kubeconfig files, given in precedence order (as listed in $KUBECONFIG). */
export async function parseKubeconfigs(
  files: readonly { path: string; text: string }[],
): Promise<Kubeconfig> {
  // Loaded only here: an agent in a pod reads no kubeconfig and is spared the YAML parser's memory.
  const { parse } = await import("yaml");
  const config: Kubeconfig = {
    files: files.map((f) => f.path),
    currentContext: undefined,
    clusters: new Map(),
    users: new Map(),
    contexts: new Map(),
  };
  for (const { path, text: source } of files) {
    let doc: unknown;
    try {
      doc = parse(source);
    } catch (error) {
      throw new Error(`kubeconfig ${path} is not YAML: ${(error as Error).message}`, { cause: error });
    }
    doc ??= {};
    if (!isFields(doc)) throw new Error(`kubeconfig ${path} is not a map`);
    config.currentContext ??= text(doc, "current-context", `kubeconfig ${path}`);
    addEntries(config.clusters, doc, "clusters", "cluster", path);
    addEntries(config.users, doc, "users", "user", path);
    addEntries(config.contexts, doc, "contexts", "context", path);
  }
  return config;
}

/** Inline base64 data or a file (relative to the kubeconfig's folder) holding PEM. */
async function pem(
  entry: Entry,
  dataKey: string,
  fileKey: string,
  where: string,
): Promise<string | undefined> {
  const data = text(entry.fields, dataKey, where);
  const file = text(entry.fields, fileKey, where);
  let value: string;
  if (data !== undefined) value = Buffer.from(data, "base64").toString("utf8");
  else if (file !== undefined) {
    const path = resolve(entry.dir, file);
    try {
      value = await readFile(path, "utf8");
    } catch (error) {
      throw new Error(`${where}: cannot read ${fileKey} ${path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  } else return undefined;
  if (!value.includes("-----BEGIN "))
    throw new Error(`${where}: ${data !== undefined ? dataKey : fileKey} is not PEM`);
  return value;
}

function lookup(entries: Map<string, Entry>, kind: string, name: string, files: string): Entry {
  const entry = entries.get(name);
  if (entry === undefined)
    throw new Error(`kubeconfig ${files}: ${kind} ${JSON.stringify(name)} is not defined`);
  return entry;
}

async function clusterSettings(cluster: Entry, where: string): Promise<Omit<KubeConnection, "source">> {
  const server = text(cluster.fields, "server", where);
  if (server === undefined) throw new Error(`${where}: server is missing`);
  const insecure = cluster.fields["insecure-skip-tls-verify"];
  if (insecure !== undefined && insecure !== null && insecure !== false)
    throw new Error(
      `${where}: insecure-skip-tls-verify is set; trustgate always verifies the API server's certificate`,
    );
  if (text(cluster.fields, "proxy-url", where) !== undefined)
    throw new Error(`${where}: proxy-url is not supported`);
  const settings: Omit<KubeConnection, "source"> = { server: httpsServer(server, where) };
  const ca = await pem(cluster, "certificate-authority-data", "certificate-authority", where);
  if (ca !== undefined) settings.ca = ca;
  const tlsServerName = text(cluster.fields, "tls-server-name", where);
  if (tlsServerName !== undefined) settings.tlsServerName = tlsServerName;
  return settings;
}

async function userSettings(
  user: Entry,
  where: string,
): Promise<Pick<KubeConnection, "bearer" | "clientCertificate">> {
  for (const field of UNSUPPORTED_USER_FIELDS)
    if (user.fields[field] !== undefined && user.fields[field] !== null)
      throw new Error(`${where}: ${field} is not supported; use a token, tokenFile or client certificate`);
  const settings: Pick<KubeConnection, "bearer" | "clientCertificate"> = {};
  const tokenFile = text(user.fields, "tokenFile", where);
  const token = text(user.fields, "token", where);
  // As in client-go, a token file wins over an inline token.
  const bearer: BearerToken | undefined =
    tokenFile !== undefined
      ? { tokenFile: resolve(user.dir, tokenFile) }
      : token !== undefined
        ? { token }
        : undefined;
  if (bearer !== undefined) settings.bearer = bearer;
  const cert = await pem(user, "client-certificate-data", "client-certificate", where);
  const key = await pem(user, "client-key-data", "client-key", where);
  if ((cert === undefined) !== (key === undefined))
    throw new Error(`${where}: a client certificate needs both certificate and key`);
  if (cert !== undefined && key !== undefined) settings.clientCertificate = { cert, key };
  return settings;
}

/** The connection of the current context; reads the certificate and key files it names. */
export async function connectionFromKubeconfig(config: Kubeconfig): Promise<KubeConnection> {
  const files = config.files.join(":");
  const contextName = config.currentContext;
  if (contextName === undefined) throw new Error(`kubeconfig ${files}: current-context is not set`);
  const context = lookup(config.contexts, "context", contextName, files);
  const where = `kubeconfig ${files} context ${JSON.stringify(contextName)}`;
  const clusterName = text(context.fields, "cluster", where);
  if (clusterName === undefined) throw new Error(`${where}: cluster is missing`);
  const connection: KubeConnection = {
    ...(await clusterSettings(
      lookup(config.clusters, "cluster", clusterName, files),
      `${where}, cluster ${JSON.stringify(clusterName)}`,
    )),
    source: where,
  };
  const userName = text(context.fields, "user", where);
  if (userName !== undefined)
    Object.assign(
      connection,
      await userSettings(
        lookup(config.users, "user", userName, files),
        `${where}, user ${JSON.stringify(userName)}`,
      ),
    );
  const namespace = text(context.fields, "namespace", where);
  if (namespace !== undefined) connection.namespace = namespace;
  return connection;
}

/** Reads, merges and resolves kubeconfig files (precedence order). */
export async function loadKubeconfigFiles(paths: readonly string[]): Promise<KubeConnection> {
  const files = await Promise.all(
    paths.map(async (path) => {
      try {
        return { path, text: await readFile(path, "utf8") };
      } catch (error) {
        throw new Error(`cannot read kubeconfig ${path}: ${(error as Error).message}`, { cause: error });
      }
    }),
  );
  return connectionFromKubeconfig(await parseKubeconfigs(files));
}
