/** `trustgate guest`, once flags are parsed: load the config, build the providers, then answer once or keep watching. */
import { join } from "node:path";
import type { Logger } from "pino";
import { guestConnection, loadGuestConfig } from "./config.ts";
import { GpuReadyKeeper } from "./gpu-ready/ready-keeper.ts";
import { Guest } from "./guest.ts";
import { GuestLoop } from "./guest-loop.ts";
import { loadOperatorJwks, type OperatorTrust } from "./operator-trust.ts";
import { CvmClient } from "./kube/cvm-client.ts";
import { createProviders, type ProviderChoice } from "./providers/select.ts";
import type { GpuReadySwitch } from "./providers/types.ts";
import { createSelfCheck } from "./self-check.ts";

export const DEFAULT_SECRETS_DIR = "/run/trustgate/secrets";

export interface GuestRunOptions {
  configFile: string;
  secretsDir: string;
  providers: ProviderChoice;
  /** Answer the current challenge, then exit (0 answered, 1 not). */
  once: boolean;
  selfCheck: boolean;
  /** The operator's JWKS, a file of the measured image (not cloud-init). */
  operatorJwksFile: string;
}

export async function runGuest(options: GuestRunOptions, log: Logger, signal: AbortSignal): Promise<number> {
  const config = await loadGuestConfig(options.configFile);
  const providers = await createProviders(options.providers);
  const simulated = options.providers.tee === "simulated" || options.providers.gpu === "simulated";
  if (simulated)
    log.warn(
      { simPki: options.providers.simPki },
      "Using SIMULATED evidence providers: tests and demos only",
    );
  const trustRoots =
    simulated && options.providers.simPki !== undefined
      ? join(options.providers.simPki, "trust-roots.json")
      : undefined;
  const selfCheck = options.selfCheck ? await createSelfCheck(trustRoots) : undefined;
  const api = new CvmClient(guestConnection(config, options.configFile), config);
  const jwks = await loadOperatorJwks(options.operatorJwksFile);
  if (jwks === undefined)
    log.warn(
      { file: options.operatorJwksFile },
      "No operator JWKS pinned in the image: released secrets will not be opened",
    );
  const trust = jwks === undefined ? undefined : { jwks, subject: `${config.namespace}/${config.name}` };
  const readiness = readyKeeper(options, providers.gpus?.readySwitch, trust, log);
  const guest = new Guest({
    api,
    providers: { tee: providers.tee, ...(providers.gpus === undefined ? {} : { gpus: providers.gpus }) },
    secretsDir: options.secretsDir,
    ...(trust === undefined ? {} : { trust }),
    log,
    ...(selfCheck === undefined ? {} : { selfCheck }),
    ...(readiness === undefined ? {} : { readiness }),
  });
  log.info(
    {
      cvm: `${config.namespace}/${config.name}`,
      server: config.apiServer,
      tee: providers.tee.name,
      gpus: providers.gpus?.name ?? "none",
    },
    "Started the trustgate guest",
  );
  try {
    if (options.once) {
      const result = await guest.handle(await api.get());
      if (result.answered !== undefined) return 0;
      if (result.error === undefined && result.decision.action === "wait")
        log.warn({ reason: result.decision.reason }, `Nothing answered: ${result.decision.message}`);
      return 1;
    }
    await new GuestLoop(guest, api, log).run(signal);
    log.info("Stopped the trustgate guest");
    return 0;
  } finally {
    readiness?.close();
    api.close();
    await providers.gpus?.close?.();
  }
}

/**
 * The keeper of the GPUs' CC ready state, for a long-running guest with GPUs and the operator's JWKS pinned. Without
 * the JWKS it can verify no result, so it leaves the ready state alone (and says so); `--once` exits before any
 * result arrives.
 */
function readyKeeper(
  options: GuestRunOptions,
  readySwitch: GpuReadySwitch | undefined,
  trust: OperatorTrust | undefined,
  log: Logger,
): GpuReadyKeeper | undefined {
  if (options.once || readySwitch === undefined) return undefined;
  if (trust === undefined) {
    log.warn(
      "No operator JWKS pinned in the image: the guest does not set the GPUs ready (CUDA stays blocked)",
    );
    return undefined;
  }
  return new GpuReadyKeeper({ readySwitch, trust, log });
}
