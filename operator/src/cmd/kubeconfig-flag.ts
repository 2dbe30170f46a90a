import type { KubeConfig } from "@kubernetes/client-node";
import { InputError } from "../cli/command.ts";
import { loadKubeConfig } from "../kube/kubeconfig.ts";

/** The KubeConfig of `--kubeconfig` (or the defaults); one that cannot be loaded is bad input (exit 2), not a crash. */
export function kubeConfigFromFlag(commandName: string, path: string | undefined): KubeConfig {
  try {
    return loadKubeConfig(path);
  } catch (error) {
    const source = path === undefined || path === "" ? "the default kubeconfig" : `--kubeconfig ${path}`;
    throw new InputError(`trustgate ${commandName}: cannot load ${source}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
