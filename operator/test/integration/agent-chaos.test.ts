// Short version of bench/chaos-agent.ts: SIGKILL one node agent with a short --host-stale-after; its host goes
// ReportStale after about that time and recovers when the agent returns, while the other host stays Validated.
import { expect } from "chai";
import type { KubeConfig } from "@kubernetes/client-node";
import type { ManagedProcess } from "../../../hack/lib/managed-process.ts";
import { type ChaosAgent, hostState, killAgentUntilStale } from "../../../bench/lib/agent-chaos.ts";
import { waitUntil } from "../support/apply.ts";
import { kubeConfig, makeTempDir } from "../support/control-plane.ts";
import { removeHosts } from "../support/hosts.ts";
import { writeServiceAccountKubeconfig } from "../support/identities.ts";
import { installTrustgate, startFixtureAgent, SYSTEM_NS } from "../support/install.ts";
import { OFFLINE_COLLATERAL, startTrustgate } from "../support/trustgate-process.ts";

const SUFFIX = Date.now().toString(36);
const STALE_AFTER_MS = 5_000;
const HOSTS = [
  { node: `chaos-tdx-${SUFFIX}`, fixture: "tdx-8xh100" },
  { node: `chaos-snp-${SUFFIX}`, fixture: "snp-genoa-4xh100" },
];

describe("agent chaos: a killed agent's host goes ReportStale, and recovers when it returns", function () {
  this.timeout(120_000);
  let admin: KubeConfig;
  const processes: ManagedProcess[] = [];
  const agents: ChaosAgent[] = [];

  before(async () => {
    admin = await kubeConfig();
    const dir = await makeTempDir("trustgate-agent-chaos-");
    await installTrustgate(admin);
    const controllerKc = await writeServiceAccountKubeconfig(admin, SYSTEM_NS, "trustgate-controller", dir);
    processes.push(
      startTrustgate(
        "controller",
        [
          ...["controller", ...OFFLINE_COLLATERAL, "--kubeconfig", controllerKc],
          ...[
            "--host-stale-after",
            `${String(STALE_AFTER_MS / 1000)}s`,
            "--metrics-bind-address",
            "127.0.0.1:0",
          ],
        ],
        dir,
      ),
    );
    for (const host of HOSTS) {
      // An unchanged report is rewritten every second, well inside the staleness time.
      const agent = await startFixtureAgent(admin, host, dir, "1s", false, {
        extraArgs: ["--max-report-age", "1s"],
      });
      agents.push({ node: host.node, process: agent.process, respawn: agent.respawn });
    }
    for (const { node } of HOSTS) {
      await waitUntil(
        `${node} Validated and labelled`,
        async () => {
          const state = await hostState(admin, node);
          return state.validated === "True" && state.label === "true";
        },
        60_000,
      );
    }
  });

  after(async () => {
    await Promise.all([...processes, ...agents.map((a) => a.process)].map((p) => p.stop()));
    await removeHosts(
      admin,
      HOSTS.map((h) => h.node),
    );
  });

  it("goes ReportStale no sooner than --host-stale-after after its last report, recovers on restart", async () => {
    const [victim, other] = agents;
    if (victim === undefined || other === undefined) throw new Error("two agents expected");
    const round = await killAgentUntilStale(admin, victim, [other.node], {
      round: 1,
      staleAfterMs: STALE_AFTER_MS,
    });
    expect(round.staleAfterLastReportMs, "stale no sooner than configured").to.be.at.least(
      STALE_AFTER_MS - 1_000,
    );
    expect(round.staleAfterLastReportMs, "stale soon after the configured time").to.be.below(
      STALE_AFTER_MS + 5_000,
    );
    expect(round.labelFalseMs).to.be.at.least(round.staleMs);
    expect(round.recoveredMs).to.be.below(15_000);
    expect(round.labelBackMs).to.be.at.least(round.recoveredMs);
    expect(round.othersDisturbed, "the other host stayed Validated").to.equal(0);
    const state = await hostState(admin, victim.node);
    expect(state).to.include({ validated: "True", label: "true" });
  });
});
