// Mocha root hook plugin (load with --require): one real etcd + kube-apiserver per test process,
// started on first use and stopped after the last test, on SIGINT/SIGTERM and on process exit.
import { loadKubeConfig } from "../../src/kube/kubeconfig.ts";
import { rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { constants, tmpdir } from "node:os";
import { join } from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";
import { startControlPlane, type ControlPlane } from "../../../hack/lib/control-plane.ts";
import { resolveBinDir } from "../../../hack/lib/find-binaries.ts";
import { killManagedProcessesNow } from "../../../hack/lib/managed-process.ts";

let shared: Promise<ControlPlane> | undefined;
const tempDirs = new Set<string>();

/** A fresh folder under the OS temp dir, deleted after the run (also after a failed or killed run). */
export async function makeTempDir(prefix = "trustgate-cp-"): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

async function removeTempDirs(): Promise<void> {
  await Promise.all([...tempDirs].map((dir) => rm(dir, { recursive: true, force: true, maxRetries: 5 })));
  tempDirs.clear();
}

async function startShared(): Promise<ControlPlane> {
  const binDir = await resolveBinDir();
  const dir = await makeTempDir();
  const verbose = process.env["TRUSTGATE_CP_VERBOSE"] === "1";
  return startControlPlane({
    binDir,
    dir,
    log: (line) => {
      if (verbose) process.stderr.write(`control-plane: ${line}\n`);
    },
  });
}

/** The process-wide control plane, started on the first call (a failed start is not retried). */
export function sharedControlPlane(): Promise<ControlPlane> {
  shared ??= startShared();
  return shared;
}

/** A KubeConfig for the admin user (group system:masters) of the shared control plane. */
export async function kubeConfig(): Promise<KubeConfig> {
  const controlPlane = await sharedControlPlane();
  const config = loadKubeConfig(controlPlane.kubeconfigPath);
  return config;
}

/** Stops the shared control plane (if one was started) and deletes the temp folders. */
export async function stopSharedControlPlane(): Promise<void> {
  const starting = shared;
  if (starting !== undefined) {
    try {
      await (await starting).stop();
    } catch {
      // a start that failed has already stopped whatever it had started
    }
  }
  await removeTempDirs();
}

process.on("exit", () => {
  // Children first: etcd must not keep writing into a folder that is being deleted.
  killManagedProcessesNow();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    // Exiting (rather than re-raising) also runs the 'exit' cleanup for control planes that
    // tests started themselves.
    void stopSharedControlPlane().finally(() => process.exit(128 + constants.signals[signal]));
  });
}

export const mochaHooks = {
  async afterAll(this: Mocha.Context): Promise<void> {
    this.timeout(60_000);
    await stopSharedControlPlane();
  },
};
