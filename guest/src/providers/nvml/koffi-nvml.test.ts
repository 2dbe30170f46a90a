import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import koffi from "koffi";
import { derToPem } from "../../../../operator/src/crypto/pem.ts";
import { loadKoffiNvml } from "./koffi-nvml.ts";
import { NvmlGpus } from "./nvml-gpus.ts";

const FAKE_SOURCE = fileURLToPath(new URL("../../../test/fake-nvml/fake-libnvidia-ml.c", import.meta.url));

function compilerAvailable(): boolean {
  try {
    execFileSync("cc", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

describe("NVML over FFI (koffi) against a compiled stand-in for libnvidia-ml", function () {
  this.timeout(60_000);
  let dir: string | undefined;
  let library: string;
  let fake: { failReports: (fail: number) => void; initialized: () => number };

  before(async function () {
    if (!compilerAvailable()) this.skip();
    const folder = await mkdtemp(join(tmpdir(), "trustgate-fake-nvml-"));
    dir = folder;
    library = join(folder, "libnvidia-ml.so.1");
    execFileSync("cc", ["-shared", "-fPIC", "-o", library, FAKE_SOURCE]);
    const lib = koffi.load(library);
    fake = {
      failReports: lib.func("void fake_nvml_fail_reports(int fail)") as (fail: number) => void,
      initialized: lib.func("int fake_nvml_initialized()") as () => number,
    };
  });

  after(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it("passes the nonce in and reads reports, chains, versions and architectures out", async () => {
    const nonce = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
    const gpus = await new NvmlGpus(() => loadKoffiNvml(library)).collect(nonce);
    expect(gpus).to.deep.equal(
      [0, 1].map((index) => ({
        arch: index === 0 ? "HOPPER" : "BLACKWELL",
        evidence: Buffer.from([0xa0 + index, ...nonce]).toString("base64"),
        certChain: derToPem(Uint8Array.from([0x30, 0x03, 0x02, 0x01, index])),
        driverVersion: "550.90.07",
        vbiosVersion: `96.00.9F.00.0${index + 1}`,
      })),
    );
    expect(fake.initialized()).to.equal(0);
  });

  it("turns an NVML error code into its message, and shuts NVML down", async () => {
    fake.failReports(1);
    try {
      let error: unknown;
      await new NvmlGpus(() => loadKoffiNvml(library))
        .collect(new Uint8Array(32))
        .catch((e: unknown) => (error = e));
      expect(String(error)).to.include(
        "nvmlDeviceGetConfComputeGpuAttestationReport failed: NVML error 3 (Not Supported)",
      );
      expect(fake.initialized()).to.equal(0);
    } finally {
      fake.failReports(0);
    }
  });

  it("says why when libnvidia-ml cannot be loaded", async () => {
    let error: unknown;
    await loadKoffiNvml(join(dir ?? "", "absent.so")).catch((e: unknown) => (error = e));
    expect(String(error)).to.include("is the NVIDIA driver installed in the CVM?");
  });
});
