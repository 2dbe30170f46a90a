/**
 * Compiles fake-libnvidia-nscq.c into a temporary libnvidia-nscq.so.2 and binds its test controls. Each call makes
 * its own copy (its own dlopen handle, so its own switches). Undefined when no C compiler is available.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import koffi from "koffi";
import { compilerAvailable } from "../fake-nvml/fake-nvml.ts";

const SOURCE = fileURLToPath(new URL("fake-libnvidia-nscq.c", import.meta.url));

export interface FakeSwitch {
  uuid: Uint8Array;
  /** The nonce `report` answers. */
  nonce: Uint8Array;
  /** SPDM GET_MEASUREMENTS request || response. */
  report: Uint8Array;
  /** DER certificates back to back, leaf first. */
  chain: Uint8Array;
}

export interface FakeNscq {
  /** The compiled library: pass it to loadKoffiNscq. */
  library: string;
  addSwitch(device: FakeSwitch): void;
  reset(): void;
  /** Sessions created and not destroyed. */
  sessionsOpen(): number;
  remove(): Promise<void>;
}

export async function compileFakeNscq(): Promise<FakeNscq | undefined> {
  if (!compilerAvailable()) return undefined;
  const dir = await mkdtemp(join(tmpdir(), "trustgate-fake-nscq-"));
  const library = join(dir, "libnvidia-nscq.so.2");
  execFileSync("cc", ["-shared", "-fPIC", "-o", library, SOURCE]);
  const lib = koffi.load(library);
  const add = lib.func(
    "int fake_nscq_add_switch(const uint8_t *uuid, const uint8_t *nonce, const uint8_t *report, uint32_t report_size, const uint8_t *chain, uint32_t chain_size)",
  ) as (u: Uint8Array, n: Uint8Array, r: Uint8Array, rs: number, c: Uint8Array, cs: number) => number;
  return {
    library,
    addSwitch: ({ uuid, nonce, report, chain }) => {
      if (add(uuid, nonce, report, report.length, chain, chain.length) !== 0)
        throw new Error("fake NSCQ: too many switches or evidence too large");
    },
    reset: lib.func("void fake_nscq_reset()") as () => void,
    sessionsOpen: lib.func("int fake_nscq_sessions_open()") as () => number,
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
