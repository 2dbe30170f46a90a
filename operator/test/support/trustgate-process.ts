import { join } from "node:path";
import { spawnManaged, type ManagedProcess } from "../../../hack/lib/managed-process.ts";
import { REPO_ROOT } from "./samples.ts";

/** Runs `trustgate <args>` from source as a real process with this Node; output goes to `dir/<name>.log`. */
export function startTrustgate(name: string, args: string[], dir: string): ManagedProcess {
  return spawnManaged(
    name,
    process.execPath,
    [join(REPO_ROOT, "operator/src/cmd/main.ts"), ...args],
    join(dir, `${name}.log`),
  );
}

/** Controller flags for tests, benchmarks and the demo without collateral services: never ask Intel or AMD. */
export const OFFLINE_COLLATERAL = ["--intel-pcs-url", "off", "--amd-kds-url", "off"];
