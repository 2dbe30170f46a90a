// AgentLoop feeds health.ts: a real loop over a fixture host root and an in-memory API, on a clock the test moves.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { pino } from "pino";
import type { KubeJsonApi } from "../kube/rest-client.ts";
import { KubeApiError } from "../kube/rest-api-error.ts";
import { AgentLoop, type AgentConfig } from "./agent.ts";
import type { PodResourcesSource } from "./pod-resources/observe.ts";
import { loadOrCreateAgentKey, type AgentKey } from "./signing.ts";

const FIXTURE = join(import.meta.dirname, "../../test/fixtures/hosts/tdx-8xh100");
const MIN = 60_000;

/** The node's ConfidentialHost in memory: GET, POST and merge-patch of /status, as the API server answers them. */
class InMemoryHosts implements KubeJsonApi {
  host: { metadata: { name: string }; status?: unknown } | undefined;
  patches = 0;
  get(): Promise<unknown> {
    if (this.host === undefined) return Promise.reject(new KubeApiError(404, "NotFound", "not found"));
    return Promise.resolve(this.host);
  }
  post(_path: string, body: unknown): Promise<unknown> {
    this.host = body as { metadata: { name: string } };
    return Promise.resolve(this.host);
  }
  mergePatch(_path: string, body: unknown): Promise<unknown> {
    this.patches += 1;
    this.host = { metadata: { name: "gpu-1" }, status: (body as { status: unknown }).status };
    return Promise.resolve(this.host);
  }
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(condition(), "condition reached").to.equal(true);
}

describe("AgentLoop health", function () {
  this.timeout(20_000);
  let dir: string;
  let key: AgentKey;
  let nowMs: number;
  const config = (): AgentConfig => ({
    hostRoot: FIXTURE,
    nodeName: "gpu-1",
    keyFile: join(dir, "key.jwk"),
    intervalMs: MIN,
    maxReportAgeMs: 10 * MIN,
    ccModeSource: "file",
    ccModeStateFile: "/etc/trustgate/cc-mode.json",
    ccProbeStateFile: "/run/trustgate/cc-probe.json",
    ccProbeMaxAgeMs: 86_400_000,
    podResourcesSocket: "",
  });
  const deps = { log: pino({ level: "silent" }), now: () => new Date(nowMs) };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "trustgate-agent-health-"));
    key = (await loadOrCreateAgentKey(join(dir, "key.jwk"))).key;
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    nowMs = Date.parse("2026-12-07T06:00:00Z");
  });

  it("is live and not ready at start, ready once its report is published, live between scans", async () => {
    const api = new InMemoryHosts();
    const loop = new AgentLoop(config(), deps, key, api);
    expect(loop.liveness().ok).to.equal(true);
    expect(loop.readiness()).to.deep.equal({ ok: false, reason: "no report published yet" });
    loop.start();
    await until(() => api.patches === 1 && loop.readiness().ok);
    nowMs += 2 * MIN;
    expect(loop.liveness()).to.deep.include({ ok: true });
    // The timer of the next scan never fired (the test's clock moved, not the real one): stuck after 3 intervals.
    nowMs += 2 * MIN;
    expect(loop.liveness().ok).to.equal(false);
    expect(loop.readiness().ok, "the report is 4 min old, within max-report-age + interval").to.equal(true);
    nowMs += 8 * MIN;
    expect(loop.readiness().reason).to.match(/last published or confirmed 720s ago/);
    await loop.stop();
  });

  it("is not live once one scan has hung for 3 intervals (a wedged PodResources call)", async () => {
    const api = new InMemoryHosts();
    const hung: PodResourcesSource = {
      description: "a kubelet that never answers",
      list: () => new Promise(() => undefined),
      allocatable: () => new Promise(() => undefined),
    };
    const loop = new AgentLoop(config(), { ...deps, podResources: hung }, key, api);
    loop.start();
    await new Promise((r) => setTimeout(r, 50));
    nowMs += 2 * MIN;
    expect(loop.liveness()).to.deep.equal({ ok: true, reason: "scanning" });
    nowMs += 2 * MIN;
    expect(loop.liveness()).to.deep.equal({ ok: false, reason: "a scan has been running for 240s" });
    expect(loop.readiness().ok).to.equal(false);
    expect(api.patches).to.equal(0);
    // stop() would wait for the hung scan; the test leaves the loop (no timer is pending while it scans).
  });
});
