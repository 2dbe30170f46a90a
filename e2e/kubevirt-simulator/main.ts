// TEST-ONLY: runs the KubeVirt simulator as a process for the demo. Never shipped in the image.
//   node e2e/kubevirt-simulator/main.ts --kubeconfig <file> [--step-delay-ms 1000] [--match-nodes]
//     [--start-running]
import { parseArgs } from "node:util";
import { loadKubeConfig } from "../../operator/src/kube/kubeconfig.ts";
import { createLogger } from "../../operator/src/runtime/logger.ts";
import { startKubevirtSimulator } from "./simulator.ts";

const { values } = parseArgs({
  options: {
    kubeconfig: { type: "string" },
    "step-delay-ms": { type: "string", default: "0" },
    "match-nodes": { type: "boolean", default: false },
    "start-running": { type: "boolean", default: false },
  },
});
const stepDelayMs = Number(values["step-delay-ms"]);
if (!Number.isInteger(stepDelayMs) || stepDelayMs < 0) {
  throw new Error(`--step-delay-ms must be a whole number of milliseconds, got ${values["step-delay-ms"]}`);
}

const log = createLogger("kubevirt-simulator");
const simulator = await startKubevirtSimulator({
  kc: loadKubeConfig(values.kubeconfig),
  log,
  stepDelayMs,
  matchNodes: values["match-nodes"],
  startRunning: values["start-running"],
});
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    log.info({ signal }, "Stopping the KubeVirt simulator");
    void simulator.stop().finally(() => process.exit(0));
  });
}
