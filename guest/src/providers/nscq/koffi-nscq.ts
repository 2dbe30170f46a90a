/**
 * NSCQ through FFI: libnvidia-nscq (NVIDIA's NVSwitch Configuration and Query library, shipped with the NVSwitch
 * driver / Fabric Manager packages) bound with koffi, loaded only when the NVSwitch provider is used.
 *
 * Facts from NVIDIA's public sources (nvtrust guest_tools/attestation_sdk/src/nv_attestation_sdk/verifiers/
 * nv_switch_verifier/nscq: nscq_attestation.h, nscq_attestation_path.h, pynscq.py, __init__.py):
 * - nscq_session_create(uint32 flags) returns nscq_session_result_t {int8 rc; nscq_session_t session} by value;
 *   the PPCIe tooling passes flags 1 (NSCQ_SESSION_CREATE_MOUNT_DEVICES);
 * - nscq_session_path_observe(session, path, nscq_fn_t callback, void *user_data, uint32 flags) calls `callback`
 *   once per matching device, synchronously, as (const nscq_uuid_t *device, nscq_rc_t rc, <value>, void *user_data);
 *   the value is `const nscq_uuid_t *` for the UUID path, int8 for arch and pcie_mode, and the struct itself (by
 *   value) for nscq_attestation_report_t {uint32 report_size; uint8 report[0x2000]} and
 *   nscq_attestation_certificate_t {uint8 cert_chain[0x1400]; uint32 cert_chain_size};
 * - nscq_session_set_input(session, uint32 flags, void *input, uint32 size) carries the 32-byte nonce of the next
 *   attestation_report observation;
 * - nscq_uuid_to_label(const nscq_uuid_t *, nscq_label_t * (char[64]), uint32 flags) names a switch; per-switch
 *   paths are "/" + label + suffix;
 * - the library is found as "nvidia-nscq" (ctypes find_library); nscq_attestation.h declares API 2.0.0, hence
 *   the default soname libnvidia-nscq.so.2 (an inference, not checked on a driver package: loadKoffiNscq takes a
 *   path).
 */
import {
  NscqError,
  NSCQ_NONCE_SIZE,
  NSCQ_SESSION_CREATE_MOUNT_DEVICES,
  NSCQ_UUID_PATH,
  switchPath,
} from "./nscq-api.ts";
import type { NscqApi, NscqSession } from "./nscq-api.ts";

export const NSCQ_LIBRARY = "libnvidia-nscq.so.2";
const REPORT_MAX = 0x2000;
const CHAIN_MAX = 0x1400;

type Koffi = typeof import("koffi");
type Observe = (session: unknown, path: string, callback: unknown, userData: null, flags: number) => number;

async function importKoffi(): Promise<Koffi> {
  try {
    return (await import("koffi")).default as unknown as Koffi;
  } catch (error) {
    throw new Error("the NSCQ NVSwitch provider needs the koffi package (FFI), which is not installed", {
      cause: error,
    });
  }
}

function check(call: string, code: number): void {
  if (code < 0) throw new NscqError(call, code);
}

/** Loads libnvidia-nscq (default NSCQ_LIBRARY) and returns the NSCQ calls; throws a clear error when it cannot. */
export async function loadKoffiNscq(path = NSCQ_LIBRARY): Promise<NscqApi> {
  const koffi = await importKoffi();
  let lib: ReturnType<Koffi["load"]>;
  try {
    lib = koffi.load(path);
  } catch (error) {
    throw new Error(
      `cannot load ${path} (is the NVSwitch driver's libnvidia-nscq installed in the CVM?): ${(error as Error).message}`,
      { cause: error },
    );
  }
  // Type names are per library handle so that several loads (tests) do not collide in koffi's global registry.
  const id = Math.random().toString(36).slice(2);
  const uuid = koffi.struct(`nscq_uuid_${id}`, { bytes: koffi.array("uint8_t", 16, "Typed") });
  const label = koffi.struct(`nscq_label_${id}`, { data: koffi.array("char", 64, "String") });
  const report = koffi.struct(`nscq_report_${id}`, {
    report_size: "uint32_t",
    report: koffi.array("uint8_t", REPORT_MAX, "Typed"),
  });
  const certificate = koffi.struct(`nscq_certificate_${id}`, {
    cert_chain: koffi.array("uint8_t", CHAIN_MAX, "Typed"),
    cert_chain_size: "uint32_t",
  });
  const sessionResult = koffi.struct(`nscq_session_result_${id}`, { rc: "int8_t", session: "void *" });
  const uuidPtr = koffi.pointer(uuid);
  const proto = (name: string, value: unknown): ReturnType<Koffi["proto"]> =>
    koffi.proto(`nscq_${name}_cb_${id}`, "void", [uuidPtr, "int8_t", value as string, "void *"]);
  const callbacks = {
    uuid: proto("uuid", uuidPtr),
    int8: proto("int8", "int8_t"),
    report: proto("report", report),
    certificate: proto("certificate", certificate),
  };
  const observe = (kind: keyof typeof callbacks): Observe =>
    lib.func("nscq_session_path_observe", "int8_t", [
      "void *",
      "str",
      koffi.pointer(callbacks[kind]),
      "void *",
      "uint32_t",
    ]) as Observe;
  const observers = {
    uuid: observe("uuid"),
    int8: observe("int8"),
    report: observe("report"),
    certificate: observe("certificate"),
  };
  const create = lib.func("nscq_session_create", sessionResult, ["uint32_t"]) as (flags: number) => {
    rc: number;
    session: unknown;
  };
  const destroy = lib.func("nscq_session_destroy", "void", ["void *"]) as (session: unknown) => void;
  const setInput = lib.func("nscq_session_set_input", "int8_t", [
    "void *",
    "uint32_t",
    "uint8_t *",
    "uint32_t",
  ]) as (session: unknown, flags: number, input: Uint8Array, size: number) => number;
  const toLabel = lib.func("nscq_uuid_to_label", "int8_t", [
    uuidPtr,
    koffi.out(koffi.pointer(label)),
    "uint32_t",
  ]) as (uuid: unknown, label: [{ data: string } | null], flags: number) => number;

  const labelOf = (device: { bytes: Uint8Array }): string => {
    const out: [{ data: string } | null] = [null];
    check("nscq_uuid_to_label", toLabel(device, out, 0));
    return out[0]?.data ?? "";
  };

  /** Observes `path` and returns the one value its callback reported, failing on the callback's error code. */
  function one(session: unknown, kind: keyof typeof observers, path: string): unknown {
    const values: unknown[] = [];
    let failure: NscqError | undefined;
    const rc = observers[kind](
      session,
      path,
      (_device: unknown, code: number, value: unknown) => {
        if (code < 0) failure ??= new NscqError(`observing ${path}`, code);
        else values.push(value);
      },
      null,
      0,
    );
    check(`nscq_session_path_observe(${path})`, rc);
    if (failure !== undefined) throw failure;
    if (values.length !== 1) throw new Error(`NSCQ ${path}: ${values.length} answers, expected one`);
    return values[0];
  }

  return {
    openSession: (): NscqSession => {
      const result = create(NSCQ_SESSION_CREATE_MOUNT_DEVICES);
      check("nscq_session_create", result.rc);
      const session = result.session;
      let open = true;
      return {
        switchLabels: () => {
          const labels: string[] = [];
          let failure: NscqError | undefined;
          const rc = observers.uuid(
            session,
            NSCQ_UUID_PATH,
            (_device: unknown, code: number, value: { bytes: Uint8Array }) => {
              if (code < 0) failure ??= new NscqError(`observing ${NSCQ_UUID_PATH}`, code);
              else labels.push(labelOf(value));
            },
            null,
            0,
          );
          check(`nscq_session_path_observe(${NSCQ_UUID_PATH})`, rc);
          if (failure !== undefined) throw failure;
          return labels;
        },
        architecture: (name) => one(session, "int8", switchPath(name, "/id/arch")) as number,
        pcieMode: (name) => one(session, "int8", switchPath(name, "/config/pcie_mode")) as number,
        certificateChain: (name) => {
          const value = one(session, "certificate", switchPath(name, "/config/certificate")) as {
            cert_chain: Uint8Array;
            cert_chain_size: number;
          };
          if (value.cert_chain_size > CHAIN_MAX)
            throw new Error(
              `NSCQ certificate of ${name}: size ${value.cert_chain_size} exceeds ${CHAIN_MAX}`,
            );
          return Uint8Array.from(value.cert_chain.subarray(0, value.cert_chain_size));
        },
        attestationReport: (name, nonce) => {
          if (nonce.length !== NSCQ_NONCE_SIZE)
            throw new Error(`the NVSwitch nonce must be ${NSCQ_NONCE_SIZE} bytes, not ${nonce.length}`);
          check("nscq_session_set_input", setInput(session, 0, nonce, nonce.length));
          const value = one(session, "report", switchPath(name, "/config/attestation_report")) as {
            report: Uint8Array;
            report_size: number;
          };
          if (value.report_size > REPORT_MAX)
            throw new Error(
              `NSCQ attestation report of ${name}: size ${value.report_size} exceeds ${REPORT_MAX}`,
            );
          return Uint8Array.from(value.report.subarray(0, value.report_size));
        },
        close: () => {
          if (open) destroy(session);
          open = false;
        },
      };
    },
  };
}
