import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  ApiException,
  KubeConfig,
  type KubernetesListObject,
  type V1ConfigMap,
} from "@kubernetes/client-node";
import { expect } from "chai";
import { type Logger, pino } from "pino";
import { ResourceWatch, type WatchState } from "./informer.ts";

interface LogLine {
  level: number;
  msg: string;
  status?: number;
}

const WARN = 40;
const INFO = 30;
const DEBUG = 20;

function capturingLogger(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino(
    { level: "debug" },
    {
      write(line: string) {
        lines.push(JSON.parse(line) as LogLine);
      },
    },
  );
  return { log, lines };
}

function notFound(): ApiException<string> {
  return new ApiException(
    404,
    "Not Found",
    JSON.stringify({ reason: "NotFound", message: "the server could not find the requested resource" }),
    {},
  );
}

const emptyList = (): KubernetesListObject<V1ConfigMap> => ({
  apiVersion: "v1",
  kind: "ConfigMapList",
  metadata: { resourceVersion: "7" },
  items: [],
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function until(predicate: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error("condition not reached");
    await sleep(5);
  }
}

/** Answers watch requests with 200 and keeps them open, as an API server with nothing to report does. */
async function quietWatchServer(): Promise<{ server: Server; kc: KubeConfig }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.flushHeaders();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "local", server: `http://127.0.0.1:${String(port)}`, skipTLSVerify: true }],
    users: [{ name: "anonymous" }],
    contexts: [{ name: "local", cluster: "local", user: "anonymous" }],
    currentContext: "local",
  });
  return { server, kc };
}

describe("ResourceWatch", () => {
  let server: Server;
  let kc: KubeConfig;
  const watches: ResourceWatch<V1ConfigMap>[] = [];

  before(async () => {
    ({ server, kc } = await quietWatchServer());
  });

  afterEach(async () => {
    await Promise.all(watches.splice(0).map((w) => w.stop()));
  });

  after(() => {
    server.closeAllConnections();
    server.close();
  });

  function watch(
    list: () => Promise<KubernetesListObject<V1ConfigMap>>,
    log: Logger,
    extra: { logAbsent?: boolean; onStateChange?: (state: WatchState) => void } = {},
  ): ResourceWatch<V1ConfigMap> {
    const w = new ResourceWatch<V1ConfigMap>({
      kc,
      path: "/api/v1/configmaps",
      list,
      log,
      onEvent: () => undefined,
      minRestartDelayMs: 10,
      maxRestartDelayMs: 80,
      ...extra,
    });
    watches.push(w);
    return w;
  }

  it("backs off while the resource is not served (404), logs it once, and reports absent then synced", async () => {
    const { log, lines } = capturingLogger();
    let served = false;
    let lists = 0;
    const states: WatchState[] = [];
    const w = watch(
      () => {
        lists++;
        return served ? Promise.resolve(emptyList()) : Promise.reject(notFound());
      },
      log,
      { onStateChange: (s) => states.push(s) },
    );
    await w.start();
    await w.settled();
    expect(w.state()).to.equal("absent");
    await sleep(600);
    // 10, 20, 40, 80, 80… ms: about nine lists in 600 ms (fewer on a loaded machine). Resetting the delay before each list (on ListWatch's
    // "connect") would make it one every 10 ms, about sixty.
    expect(lists).to.be.within(3, 14);
    const warnings = lines.filter((l) => l.level >= WARN);
    expect(warnings).to.have.length(1);
    expect(warnings[0]).to.include({ status: 404 });
    expect(warnings[0]?.msg).to.match(/not served/);
    expect(lines.filter((l) => l.level === DEBUG).length).to.equal(lists - 1);

    served = true;
    await w.synced();
    expect(w.state()).to.equal("synced");
    expect(states).to.deep.equal(["absent", "synced"]);
    expect(lines.some((l) => l.level === INFO && l.msg === "Watch recovered")).to.equal(true);
  });

  it("leaves a 404 to the caller with logAbsent false: nothing at warn", async () => {
    const { log, lines } = capturingLogger();
    const w = watch(() => Promise.reject(notFound()), log, { logAbsent: false });
    await w.start();
    await w.settled();
    await sleep(100);
    expect(w.state()).to.equal("absent");
    expect(lines.filter((l) => l.level >= WARN)).to.deep.equal([]);
  });

  it("resets the backoff only after a successful list: a failure after it is a new run, warned again", async () => {
    const { log, lines } = capturingLogger();
    let outcome: "fail" | "ok" = "fail";
    let lists = 0;
    const w = watch(() => {
      lists++;
      if (outcome === "ok") return Promise.resolve(emptyList());
      return Promise.reject(
        new ApiException(500, "boom", JSON.stringify({ message: "etcd unavailable" }), {}),
      );
    }, log);
    await w.start();
    await until(() => lists >= 3);
    expect(w.state()).to.equal("syncing");
    expect(lines.filter((l) => l.level >= WARN)).to.have.length(1);
    outcome = "ok";
    await w.synced();
    expect(w.state()).to.equal("synced");
    // A fresh run: the watch server drops the connection, ListWatch reports an error, warned once more.
    server.closeAllConnections();
    await until(() => lines.filter((l) => l.level >= WARN).length === 2);
    expect(w.state()).to.equal("synced");
  });
});
