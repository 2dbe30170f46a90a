/**
 * NVML through FFI: libnvidia-ml.so.1 (the driver's user-space library inside the CVM) bound with koffi, loaded
 * only when the NVML provider is used. Structs travel as plain byte buffers (see structs.ts).
 */
import type { NvmlApi } from "./nvml-api.ts";
import { NvmlError } from "./nvml-api.ts";
import { cString } from "./structs.ts";

export const NVML_LIBRARY = "libnvidia-ml.so.1";
// NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE and NVML_DEVICE_VBIOS_VERSION_BUFFER_SIZE.
const DRIVER_VERSION_BUFFER = 80;
const VBIOS_VERSION_BUFFER = 32;

type NvmlReturn = number;

interface Bindings {
  nvmlInit_v2: () => NvmlReturn;
  nvmlShutdown: () => NvmlReturn;
  nvmlErrorString: (code: NvmlReturn) => string | null;
  nvmlSystemGetDriverVersion: (version: Uint8Array, length: number) => NvmlReturn;
  nvmlDeviceGetCount_v2: (count: [number]) => NvmlReturn;
  nvmlDeviceGetHandleByIndex_v2: (index: number, device: [unknown]) => NvmlReturn;
  nvmlDeviceGetArchitecture: (device: unknown, arch: [number]) => NvmlReturn;
  nvmlDeviceGetVbiosVersion: (device: unknown, version: Uint8Array, length: number) => NvmlReturn;
  nvmlDeviceGetConfComputeGpuAttestationReport: (device: unknown, report: Uint8Array) => NvmlReturn;
  nvmlDeviceGetConfComputeGpuCertificate: (device: unknown, certificate: Uint8Array) => NvmlReturn;
  nvmlSystemGetConfComputeState: (state: Uint8Array) => NvmlReturn;
  nvmlSystemGetConfComputeSettings: ((settings: Uint8Array) => NvmlReturn) | undefined;
  nvmlSystemGetConfComputeGpusReadyState: (isAcceptingWork: [number]) => NvmlReturn;
  nvmlSystemSetConfComputeGpusReadyState: (isAcceptingWork: number) => NvmlReturn;
}

async function importKoffi(): Promise<typeof import("koffi")> {
  try {
    return await import("koffi");
  } catch (error) {
    throw new Error(
      "the NVML GPU provider needs the koffi package (FFI), which is not installed; use --gpu-provider none or simulated",
      { cause: error },
    );
  }
}

function bind(koffi: typeof import("koffi"), path: string): Bindings {
  let lib: ReturnType<typeof koffi.load>;
  try {
    lib = koffi.load(path);
  } catch (error) {
    throw new Error(
      `cannot load ${path} (is the NVIDIA driver installed in the CVM?): ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  const fn = (signature: string): ReturnType<typeof lib.func> => lib.func(signature);
  // R535 drivers lack it; R550 added it (with multiGpuMode).
  const optional = (signature: string): ReturnType<typeof lib.func> | undefined => {
    try {
      return lib.func(signature);
    } catch {
      return undefined;
    }
  };
  return {
    nvmlInit_v2: fn("int nvmlInit_v2()"),
    nvmlShutdown: fn("int nvmlShutdown()"),
    nvmlErrorString: fn("const char *nvmlErrorString(int result)"),
    nvmlSystemGetDriverVersion: fn(
      "int nvmlSystemGetDriverVersion(_Out_ uint8_t *version, unsigned int length)",
    ),
    nvmlDeviceGetCount_v2: fn("int nvmlDeviceGetCount_v2(_Out_ unsigned int *count)"),
    nvmlDeviceGetHandleByIndex_v2: fn(
      "int nvmlDeviceGetHandleByIndex_v2(unsigned int index, _Out_ void **device)",
    ),
    nvmlDeviceGetArchitecture: fn("int nvmlDeviceGetArchitecture(void *device, _Out_ unsigned int *arch)"),
    nvmlDeviceGetVbiosVersion: fn(
      "int nvmlDeviceGetVbiosVersion(void *device, _Out_ uint8_t *version, unsigned int length)",
    ),
    nvmlDeviceGetConfComputeGpuAttestationReport: fn(
      "int nvmlDeviceGetConfComputeGpuAttestationReport(void *device, _Inout_ uint8_t *report)",
    ),
    nvmlDeviceGetConfComputeGpuCertificate: fn(
      "int nvmlDeviceGetConfComputeGpuCertificate(void *device, _Out_ uint8_t *certificate)",
    ),
    nvmlSystemGetConfComputeState: fn("int nvmlSystemGetConfComputeState(_Out_ uint8_t *state)"),
    nvmlSystemGetConfComputeSettings: optional(
      "int nvmlSystemGetConfComputeSettings(_Inout_ uint8_t *settings)",
    ),
    nvmlSystemGetConfComputeGpusReadyState: fn(
      "int nvmlSystemGetConfComputeGpusReadyState(_Out_ unsigned int *isAcceptingWork)",
    ),
    nvmlSystemSetConfComputeGpusReadyState: fn(
      "int nvmlSystemSetConfComputeGpusReadyState(unsigned int isAcceptingWork)",
    ),
  };
}

/** Loads libnvidia-ml (default NVML_LIBRARY) and returns the NVML calls; throws a clear error when it cannot. */
export async function loadKoffiNvml(path = NVML_LIBRARY): Promise<NvmlApi> {
  const nvml = bind(await importKoffi(), path);
  const getSettings = nvml.nvmlSystemGetConfComputeSettings;
  const check = (call: string, code: NvmlReturn): void => {
    if (code !== 0) throw new NvmlError(call, code, nvml.nvmlErrorString(code) ?? "unknown");
  };
  return {
    init: () => {
      check("nvmlInit_v2", nvml.nvmlInit_v2());
    },
    shutdown: () => {
      check("nvmlShutdown", nvml.nvmlShutdown());
    },
    driverVersion: () => {
      const buffer = new Uint8Array(DRIVER_VERSION_BUFFER);
      check("nvmlSystemGetDriverVersion", nvml.nvmlSystemGetDriverVersion(buffer, buffer.length));
      return cString(buffer);
    },
    deviceCount: () => {
      const count: [number] = [0];
      check("nvmlDeviceGetCount_v2", nvml.nvmlDeviceGetCount_v2(count));
      return count[0];
    },
    deviceHandle: (index) => {
      const device: [unknown] = [null];
      check("nvmlDeviceGetHandleByIndex_v2", nvml.nvmlDeviceGetHandleByIndex_v2(index, device));
      return device[0];
    },
    architecture: (device) => {
      const arch: [number] = [0];
      check("nvmlDeviceGetArchitecture", nvml.nvmlDeviceGetArchitecture(device, arch));
      return arch[0];
    },
    vbiosVersion: (device) => {
      const buffer = new Uint8Array(VBIOS_VERSION_BUFFER);
      check("nvmlDeviceGetVbiosVersion", nvml.nvmlDeviceGetVbiosVersion(device, buffer, buffer.length));
      return cString(buffer);
    },
    attestationReport: (device, struct) => {
      check(
        "nvmlDeviceGetConfComputeGpuAttestationReport",
        nvml.nvmlDeviceGetConfComputeGpuAttestationReport(device, struct),
      );
    },
    certificate: (device, struct) => {
      check(
        "nvmlDeviceGetConfComputeGpuCertificate",
        nvml.nvmlDeviceGetConfComputeGpuCertificate(device, struct),
      );
    },
    ccSystemState: (struct) => {
      check("nvmlSystemGetConfComputeState", nvml.nvmlSystemGetConfComputeState(struct));
    },
    ...(getSettings === undefined
      ? {}
      : {
          ccSettings: (struct: Uint8Array) => {
            check("nvmlSystemGetConfComputeSettings", getSettings(struct));
          },
        }),
    gpusReadyState: () => {
      const state: [number] = [0];
      check("nvmlSystemGetConfComputeGpusReadyState", nvml.nvmlSystemGetConfComputeGpusReadyState(state));
      return state[0];
    },
    setGpusReadyState: (state) => {
      check("nvmlSystemSetConfComputeGpusReadyState", nvml.nvmlSystemSetConfComputeGpusReadyState(state));
    },
  };
}
