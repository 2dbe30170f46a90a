import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const BUILD_TOOLS = fileURLToPath(new URL("../build-tools.sh", import.meta.url));

/**
 * The folder holding etcd, kube-apiserver and kubectl: $TRUSTGATE_BIN_DIR when set, otherwise what
 * `hack/build-tools.sh control-plane` prints (it builds into a cache on first use; its progress
 * goes to our stderr).
 */
export async function resolveBinDir(): Promise<string> {
  const fromEnv = process.env["TRUSTGATE_BIN_DIR"];
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;

  const child = spawn("bash", [BUILD_TOOLS, "control-plane"], { stdio: ["ignore", "pipe", "inherit"] });
  let stdout = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    stdout += chunk;
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", resolve);
  });
  if (code !== 0) throw new Error(`${BUILD_TOOLS} control-plane failed with exit code ${String(code)}`);
  const binDir = stdout.trim();
  if (binDir === "") throw new Error(`${BUILD_TOOLS} control-plane printed no folder`);
  return binDir;
}
