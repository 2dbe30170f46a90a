/**
 * Compiles fake-libnvidia-ml.c into a temporary libnvidia-ml.so.1 and binds its test controls. Each call makes its
 * own copy (its own dlopen handle, so its own driver state). Undefined when no C compiler is available.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import koffi from "koffi";

const SOURCE = fileURLToPath(new URL("fake-libnvidia-ml.c", import.meta.url));

export interface FakeNvml {
  /** The compiled library: pass it to loadKoffiNvml. */
  library: string;
  failReports(fail: boolean): void;
  /** nvmlInit calls not matched by nvmlShutdown. */
  initialized(): number;
  /** NVML_CC_SYSTEM_ENVIRONMENT_*, _FEATURE_*, _DEVTOOLS_MODE_*, _MULTIGPU_* values. */
  setCc(environment: number, feature: number, devTools: number, multiGpu: number): void;
  settingsSupported(supported: boolean): void;
  /** Whether the caller holds CAP_SYS_ADMIN (else setting the ready state fails, NVML_ERROR_NO_PERMISSION). */
  privileged(privileged: boolean): void;
  reloadDriver(): void;
  /** Any CUDA work: 0 when the driver accepts it, 1 when it refuses (GPUs not ready). */
  cudaLaunch(): number;
  /** Replaces the built-in devices by recorded Hoppers answering `nonce` with `report` (DER `chain`). */
  recordDevice(device: {
    nonce: Uint8Array;
    report: Uint8Array;
    chain: Uint8Array;
    vbiosVersion: string;
  }): void;
  forgetDevices(): void;
  remove(): Promise<void>;
}

export function compilerAvailable(): boolean {
  try {
    execFileSync("cc", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

export async function compileFakeNvml(): Promise<FakeNvml | undefined> {
  if (!compilerAvailable()) return undefined;
  const dir = await mkdtemp(join(tmpdir(), "trustgate-fake-nvml-"));
  const library = join(dir, "libnvidia-ml.so.1");
  execFileSync("cc", ["-shared", "-fPIC", "-o", library, SOURCE]);
  const lib = koffi.load(library);
  const failReports = lib.func("void fake_nvml_fail_reports(int fail)") as (fail: number) => void;
  const settingsSupported = lib.func("void fake_nvml_settings_supported(int supported)") as (
    s: number,
  ) => void;
  const privileged = lib.func("void fake_nvml_privileged(int caller_has_cap_sys_admin)") as (
    p: number,
  ) => void;
  const record = lib.func(
    "int fake_nvml_record_device(const uint8_t *nonce, const uint8_t *report, unsigned int report_size, const uint8_t *chain, unsigned int chain_size, const char *vbios)",
  ) as (n: Uint8Array, r: Uint8Array, rs: number, c: Uint8Array, cs: number, v: string) => number;
  return {
    library,
    recordDevice: ({ nonce, report, chain, vbiosVersion }) => {
      if (record(nonce, report, report.length, chain, chain.length, vbiosVersion) !== 0)
        throw new Error("fake NVML: too many recorded devices or evidence too large");
    },
    forgetDevices: lib.func("void fake_nvml_forget_devices()") as () => void,
    failReports: (fail) => {
      failReports(fail ? 1 : 0);
    },
    initialized: lib.func("int fake_nvml_initialized()") as () => number,
    setCc: lib.func(
      "void fake_nvml_set_cc(unsigned int environment, unsigned int feature, unsigned int devtools, unsigned int multigpu)",
    ) as FakeNvml["setCc"],
    settingsSupported: (supported) => {
      settingsSupported(supported ? 1 : 0);
    },
    privileged: (value) => {
      privileged(value ? 1 : 0);
    },
    reloadDriver: lib.func("void fake_nvml_reload_driver()") as () => void,
    cudaLaunch: lib.func("int fake_cuda_launch()") as () => number,
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
