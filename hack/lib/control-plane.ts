import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { get as httpGet } from "node:http";
import { join, resolve } from "node:path";
import { stringify } from "yaml";
import { httpsGet } from "./https-get.ts";
import { freeLoopbackPorts, sleep, spawnManaged, tailFile, type ManagedProcess } from "./managed-process.ts";
import { generateControlPlanePki, type ControlPlanePki } from "./pki.ts";

export interface ControlPlaneOptions {
  /** Folder holding the etcd and kube-apiserver binaries. */
  binDir: string;
  /** Working folder: pki/, etcd/ (data), logs/, kubeconfig and pids.json are created in it. */
  dir: string;
  /** Progress messages (one line each). */
  log?: (line: string) => void;
}

export interface ControlPlane {
  /** Admin kubeconfig (user "admin" in group system:masters), context "trustgate-local". */
  kubeconfigPath: string;
  /** https://127.0.0.1:<port> */
  server: string;
  caCertPem: string;
  dir: string;
  etcdUrl: string;
  etcdPid: number;
  apiserverPid: number;
  ports: { etcdClient: number; etcdPeer: number; apiserver: number };
  /** Milliseconds from the call of startControlPlane until namespace "default" existed. */
  startupMs: number;
  /** Resolves with "<name>: <how>" as soon as etcd or kube-apiserver exits, for whatever reason. */
  anyExited: Promise<string>;
  /** Stops kube-apiserver, then etcd (SIGTERM, SIGKILL after 10 s). Safe to call repeatedly. */
  stop(): Promise<void>;
  /**
   * Stops one component and starts it again on the same ports and data folder (a crash or an upgrade of one
   * static pod), resolving once kube-apiserver's /readyz answers 200 again. etcdPid/apiserverPid then name the
   * new process; anyExited keeps following the first ones (it resolves with this restart).
   */
  restart(component: ControlPlaneComponent, options?: RestartOptions): Promise<RestartTimes>;
}

export type ControlPlaneComponent = "etcd" | "kube-apiserver";

export interface RestartOptions {
  /** SIGTERM (a clean stop, SIGKILL after 10 s) or SIGKILL (a crash). Default SIGTERM. */
  signal?: "SIGTERM" | "SIGKILL";
  /** How long the component stays down before it is started again (default 0). */
  downMs?: number;
}

/** Wall-clock times (Date.now()) of a restart. */
export interface RestartTimes {
  /** The old process was sent its signal. */
  signalledAt: number;
  /** The old process was gone. */
  stoppedAt: number;
  /** The new process was spawned. */
  startedAt: number;
  /** kube-apiserver's /readyz answered 200 again. */
  readyAt: number;
}

const CONTEXT_NAME = "trustgate-local";
const ETCD_TIMEOUT_MS = 30_000;
const READYZ_TIMEOUT_MS = 90_000;
const DEFAULT_NAMESPACE_TIMEOUT_MS = 30_000;

/** Starts etcd and kube-apiserver on free loopback ports and waits until the API is usable. */
export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  const startedAt = performance.now();
  const log = options.log ?? (() => undefined);
  const elapsed = (): string => `${((performance.now() - startedAt) / 1000).toFixed(1)}s`;
  const dir = resolve(options.dir);
  const etcdBinary = requireBinary(options.binDir, "etcd");
  const apiserverBinary = requireBinary(options.binDir, "kube-apiserver");

  await mkdir(join(dir, "logs"), { recursive: true });
  const [etcdClient, etcdPeer, apiserverPort] = (await freeLoopbackPorts(3)) as [number, number, number];
  const pki = await generateControlPlanePki(join(dir, "pki"));
  const [ca, cert, key] = await Promise.all([
    readFile(pki.caCert, "utf8"),
    readFile(pki.adminCert, "utf8"),
    readFile(pki.adminKey, "utf8"),
  ]);
  const admin = { ca, cert, key };
  const etcdUrl = `http://127.0.0.1:${etcdClient}`;
  const server = `https://127.0.0.1:${apiserverPort}`;
  const kubeconfigPath = join(dir, "kubeconfig");
  await writeAdminKubeconfig(kubeconfigPath, server, admin);

  const started: ManagedProcess[] = [];
  const stopAll = async (): Promise<void> => {
    for (const child of [...started].reverse()) await child.stop();
  };
  const spawners: Record<ControlPlaneComponent, () => ManagedProcess> = {
    etcd: () =>
      spawnManaged(
        "etcd",
        etcdBinary,
        etcdArgs(dir, etcdUrl, `http://127.0.0.1:${etcdPeer}`),
        join(dir, "logs", "etcd.log"),
      ),
    "kube-apiserver": () =>
      spawnManaged(
        "kube-apiserver",
        apiserverBinary,
        apiserverArgs(dir, pki, etcdUrl, server, apiserverPort),
        join(dir, "logs", "kube-apiserver.log"),
      ),
  };
  try {
    const etcd = spawners.etcd();
    started.push(etcd);
    await writePids(dir, started);
    await waitUntil(etcd, ETCD_TIMEOUT_MS, "etcd /health", () => probeEtcdHealth(etcdUrl));
    log(`etcd healthy at ${etcdUrl} after ${elapsed()}`);

    const apiserver = spawners["kube-apiserver"]();
    started.push(apiserver);
    await writePids(dir, started);
    await waitUntil(apiserver, READYZ_TIMEOUT_MS, "kube-apiserver /readyz", () =>
      probeOk(`${server}/readyz`, admin),
    );
    log(`kube-apiserver ready at ${server} after ${elapsed()}`);
    await waitUntil(apiserver, DEFAULT_NAMESPACE_TIMEOUT_MS, "namespace default", () =>
      probeOk(`${server}/api/v1/namespaces/default`, admin),
    );
    log(`namespace default exists after ${elapsed()}`);

    const current = (component: ControlPlaneComponent): ManagedProcess => {
      const child = started.find((c) => c.name === component);
      if (child === undefined) throw new Error(`no ${component} process`);
      return child;
    };
    let stopping: Promise<void> | undefined;
    const restart = async (
      component: ControlPlaneComponent,
      options: RestartOptions = {},
    ): Promise<RestartTimes> => {
      if (stopping !== undefined)
        throw new Error(`cannot restart ${component}: the control plane is stopping`);
      const old = current(component);
      const signalledAt = Date.now();
      if (options.signal === "SIGKILL") {
        process.kill(old.pid, "SIGKILL");
        await old.exited;
      } else await old.stop();
      const stoppedAt = Date.now();
      if ((options.downMs ?? 0) > 0) await sleep(options.downMs ?? 0);
      const fresh = spawners[component]();
      const startedAt = Date.now();
      started[started.indexOf(old)] = fresh;
      await writePids(dir, started);
      if (component === "etcd") {
        await waitUntil(fresh, ETCD_TIMEOUT_MS, "etcd /health", () => probeEtcdHealth(etcdUrl));
      }
      await waitUntil(current("kube-apiserver"), READYZ_TIMEOUT_MS, "kube-apiserver /readyz", () =>
        probeOk(`${server}/readyz`, admin),
      );
      const readyAt = Date.now();
      log(
        `${component} restarted: down ${String(startedAt - stoppedAt)} ms, ready after ${String(readyAt - startedAt)} ms`,
      );
      return { signalledAt, stoppedAt, startedAt, readyAt };
    };
    return {
      kubeconfigPath,
      server,
      caCertPem: admin.ca,
      dir,
      etcdUrl,
      get etcdPid() {
        return current("etcd").pid;
      },
      get apiserverPid() {
        return current("kube-apiserver").pid;
      },
      ports: { etcdClient, etcdPeer, apiserver: apiserverPort },
      startupMs: Math.round(performance.now() - startedAt),
      anyExited: Promise.race(started.map((child) => child.exited.then((how) => `${child.name}: ${how}`))),
      stop() {
        stopping ??= stopAll();
        return stopping;
      },
      restart,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

function requireBinary(binDir: string, name: string): string {
  const path = join(binDir, name);
  if (!existsSync(path)) throw new Error(`${name} not found in ${binDir} (run hack/build-tools.sh)`);
  return path;
}

function etcdArgs(dir: string, clientUrl: string, peerUrl: string): string[] {
  return [
    `--data-dir=${join(dir, "etcd")}`,
    `--listen-client-urls=${clientUrl}`,
    `--advertise-client-urls=${clientUrl}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=default=${peerUrl}`,
    "--unsafe-no-fsync=true",
    "--log-level=warn",
    "--quota-backend-bytes=268435456",
  ];
}

function apiserverArgs(
  dir: string,
  pki: ControlPlanePki,
  etcdUrl: string,
  server: string,
  port: number,
): string[] {
  return [
    `--etcd-servers=${etcdUrl}`,
    "--bind-address=127.0.0.1",
    `--secure-port=${port}`,
    // A loopback advertise address is only accepted without an endpoint reconciler; it also frees
    // the apiserver from needing a default route.
    "--advertise-address=127.0.0.1",
    "--endpoint-reconciler-type=none",
    `--cert-dir=${join(dir, "pki")}`,
    `--tls-cert-file=${pki.servingCert}`,
    `--tls-private-key-file=${pki.servingKey}`,
    `--client-ca-file=${pki.caCert}`,
    "--authorization-mode=Node,RBAC",
    `--service-account-issuer=${server}`,
    `--service-account-signing-key-file=${pki.serviceAccountKey}`,
    `--service-account-key-file=${pki.serviceAccountPublicKey}`,
    "--service-cluster-ip-range=10.0.0.0/24",
    "--allow-privileged=true",
    // Without kube-controller-manager nobody creates the "default" ServiceAccount this plugin demands.
    "--disable-admission-plugins=ServiceAccount",
    // Benchmarks may ask for /debug/pprof (admin only) to see where the API server's CPU goes.
    `--profiling=${process.env["TRUSTGATE_APISERVER_PROFILING"] === "1" ? "true" : "false"}`,
  ];
}

async function writeAdminKubeconfig(
  path: string,
  server: string,
  admin: { ca: string; cert: string; key: string },
): Promise<void> {
  const base64 = (pem: string): string => Buffer.from(pem).toString("base64");
  const kubeconfig = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: CONTEXT_NAME, cluster: { server, "certificate-authority-data": base64(admin.ca) } }],
    users: [
      {
        name: CONTEXT_NAME,
        user: {
          "client-certificate-data": base64(admin.cert),
          "client-key-data": base64(admin.key),
        },
      },
    ],
    contexts: [{ name: CONTEXT_NAME, context: { cluster: CONTEXT_NAME, user: CONTEXT_NAME } }],
    "current-context": CONTEXT_NAME,
  };
  await writeFile(path, stringify(kubeconfig), { mode: 0o600 });
}

async function writePids(dir: string, processes: ManagedProcess[]): Promise<void> {
  const pids = Object.fromEntries(processes.map((child) => [child.name, child.pid]));
  await writeFile(join(dir, "pids.json"), `${JSON.stringify(pids, null, 2)}\n`);
}

/** A probe answers true when ready, otherwise a short reason (kept for the timeout message). */
type Probe = () => Promise<true | string>;

async function waitUntil(
  child: ManagedProcess,
  timeoutMs: number,
  what: string,
  probe: Probe,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let lastReason = "no answer yet";
  for (;;) {
    if (child.hasExited()) {
      throw startupError(child, `${child.name} stopped (${await child.exited}) while waiting for ${what}`);
    }
    try {
      const result = await probe();
      if (result === true) return;
      lastReason = result;
    } catch (error) {
      lastReason = (error as Error).message;
    }
    if (performance.now() > deadline) {
      throw startupError(child, `timed out after ${timeoutMs / 1000}s waiting for ${what} (${lastReason})`);
    }
    await sleep(200);
  }
}

function startupError(child: ManagedProcess, message: string): Error {
  return new Error(`${message}\n--- last lines of ${child.logPath} ---\n${tailFile(child.logPath, 30)}`);
}

async function probeOk(
  url: string,
  admin: { ca: string; cert: string; key: string },
): Promise<true | string> {
  const response = await httpsGet(url, { ...admin, timeoutMs: 2_000 });
  return response.status === 200 || `HTTP ${response.status}: ${response.body.slice(0, 300)}`;
}

function probeEtcdHealth(etcdUrl: string): Promise<true | string> {
  return new Promise((resolvePromise, reject) => {
    const req = httpGet(`${etcdUrl}/health`, { agent: false, timeout: 2_000 }, (res) => {
      res.resume();
      resolvePromise(res.statusCode === 200 || `HTTP ${String(res.statusCode)}`);
    });
    req.on("timeout", () => req.destroy(new Error("etcd /health timed out")));
    req.on("error", reject);
  });
}
