import { type Command, EXIT_FAILURE, EXIT_USAGE, type ParsedArgs, UsageError } from "../cli/command.ts";
import { createLogger } from "../runtime/logger.ts";
import { DEFAULT_CONFIG_FILE, GuestConfigError } from "../../../guest/src/config.ts";
import { DEFAULT_TSM_ROOT } from "../../../guest/src/providers/configfs-tsm.ts";
import {
  GPU_PROVIDERS,
  TEE_PROVIDERS,
  type GpuProviderName,
  type TeeProviderName,
} from "../../../guest/src/providers/select.ts";
import { DEFAULT_SECRETS_DIR, runGuest, type GuestRunOptions } from "../../../guest/src/run.ts";
import { DEFAULT_OPERATOR_JWKS_FILE } from "../../../guest/src/operator-trust.ts";
import { onSignals } from "../cli/signals.ts";

const USAGE = `Usage: trustgate guest [options]

Runs inside a confidential VM: watches its ConfidentialVM, answers each attestation challenge with TEE and GPU
evidence bound to a fresh key (server-side apply of status.evidence), and writes the secrets released to that key.

  --config <file>               guest configuration JSON (default ${DEFAULT_CONFIG_FILE})
  --secrets-dir <dir>           where released secrets go, <dir>/<secret>/<key> (default ${DEFAULT_SECRETS_DIR}; a tmpfs)
  --operator-jwks <file>        the operator's JWKS, part of the measured image, never cloud-init (default
                                ${DEFAULT_OPERATOR_JWKS_FILE}); secrets are opened only when the operator's signed
                                result and each secret's signature verify against it
  --tee-provider <name>         configfs-tsm (default) | simulated
  --gpu-provider <name>         nvml (default) | nvml+nscq | simulated | none; nvml+nscq adds the NVSwitches
                                (PPCIe) through libnvidia-nscq, as nvml does when /dev/nvidia-nvswitch* exist
  --sim-pki <dir>               simulated PKI (hack/sim-pki.ts); required by the simulated providers. TESTS ONLY
  --sim-gpu-state <file>        the simulated GPU driver's state (JSON: CC settings, ready state), seeded by a test
                                and updated by the guest; in memory without it. TESTS ONLY
  --tsm-root <dir>              configfs-tsm report directory (default ${DEFAULT_TSM_ROOT})
  --once                        answer the current challenge and exit (0 answered, 1 not)
  --skip-self-check             do not verify the own evidence before logging it
  --log-level <level>           pino level (default $LOG_LEVEL or info)`;

function text(args: ParsedArgs, name: string): string | undefined {
  const value = args.values[name];
  return typeof value === "string" ? value : undefined;
}

function oneOf<T extends string>(args: ParsedArgs, name: string, allowed: readonly T[], fallback: T): T {
  const value = text(args, name) ?? fallback;
  if (!(allowed as readonly string[]).includes(value))
    throw new UsageError(
      `trustgate guest: --${name} must be one of ${allowed.join(", ")}, not ${JSON.stringify(value)}`,
    );
  return value as T;
}

export function guestOptionsFromArgs(args: ParsedArgs): GuestRunOptions {
  if (args.positionals.length > 0) throw new UsageError("trustgate guest: takes no arguments");
  const tee = oneOf<TeeProviderName>(args, "tee-provider", TEE_PROVIDERS, "configfs-tsm");
  const gpu = oneOf<GpuProviderName>(args, "gpu-provider", GPU_PROVIDERS, "nvml");
  const simPki = text(args, "sim-pki");
  if ((tee === "simulated" || gpu === "simulated") && simPki === undefined)
    throw new UsageError("trustgate guest: --sim-pki <dir> is required with simulated providers");
  if (tee !== "simulated" && gpu !== "simulated" && simPki !== undefined)
    throw new UsageError("trustgate guest: --sim-pki is only for the simulated providers");
  const simGpuState = text(args, "sim-gpu-state");
  if (gpu !== "simulated" && simGpuState !== undefined)
    throw new UsageError("trustgate guest: --sim-gpu-state is only for --gpu-provider simulated");
  return {
    configFile: text(args, "config") ?? DEFAULT_CONFIG_FILE,
    secretsDir: text(args, "secrets-dir") ?? DEFAULT_SECRETS_DIR,
    operatorJwksFile: text(args, "operator-jwks") ?? DEFAULT_OPERATOR_JWKS_FILE,
    providers: {
      tee,
      gpu,
      tsmRoot: text(args, "tsm-root") ?? DEFAULT_TSM_ROOT,
      ...(simPki === undefined ? {} : { simPki }),
      ...(simGpuState === undefined ? {} : { simGpuState }),
    },
    once: args.values["once"] === true,
    selfCheck: args.values["skip-self-check"] !== true,
  };
}

/** Aborts on SIGTERM or SIGINT (systemd stop, Ctrl-C). */
function terminationSignal(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const dispose = onSignals({
    stop: () => {
      controller.abort();
    },
  });
  return { signal: controller.signal, dispose };
}

export const guestCommand: Command = {
  name: "guest",
  summary: "Attest this confidential VM to trustgate and receive its secrets (runs inside the CVM)",
  usage: USAGE,
  options: {
    config: { type: "string" },
    "secrets-dir": { type: "string" },
    "operator-jwks": { type: "string" },
    "tee-provider": { type: "string" },
    "gpu-provider": { type: "string" },
    "sim-pki": { type: "string" },
    "sim-gpu-state": { type: "string" },
    "tsm-root": { type: "string" },
    once: { type: "boolean" },
    "skip-self-check": { type: "boolean" },
    "log-level": { type: "string" },
  },
  async run(args, io) {
    const options = guestOptionsFromArgs(args);
    const log = createLogger("trustgate-guest", text(args, "log-level"));
    const termination = terminationSignal();
    try {
      return await runGuest(options, log, termination.signal);
    } catch (error) {
      if (error instanceof GuestConfigError) {
        io.stderr(`trustgate guest: ${error.message}\n`);
        return EXIT_USAGE;
      }
      log.error({ err: error }, "The guest failed");
      io.stderr(`trustgate guest: ${(error as Error).message}\n`);
      return EXIT_FAILURE;
    } finally {
      termination.dispose();
    }
  },
};
