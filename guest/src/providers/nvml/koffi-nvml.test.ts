import { expect } from "chai";
import { join } from "node:path";
import { derToPem } from "../../../../operator/src/crypto/pem.ts";
import { compileFakeNvml, type FakeNvml } from "../../../test/fake-nvml/fake-nvml.ts";
import { loadKoffiNvml } from "./koffi-nvml.ts";
import { NvmlGpus } from "./nvml-gpus.ts";

describe("NVML over FFI (koffi) against a compiled stand-in for libnvidia-ml", function () {
  this.timeout(60_000);
  let fake: FakeNvml | undefined;
  const compiled = (): FakeNvml => {
    if (fake === undefined) throw new Error("no compiled fake");
    return fake;
  };

  before(async function () {
    fake = await compileFakeNvml();
    if (fake === undefined) this.skip();
  });

  after(async () => {
    await fake?.remove();
  });

  const provider = (): NvmlGpus => new NvmlGpus(() => loadKoffiNvml(compiled().library));

  it("passes the nonce in and reads reports, chains, versions and architectures out", async () => {
    const nonce = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
    const gpus = await provider().collect(nonce);
    expect(gpus).to.deep.equal(
      [0, 1].map((index) => ({
        arch: index === 0 ? "HOPPER" : "BLACKWELL",
        evidence: Buffer.from([0xa0 + index, ...nonce]).toString("base64"),
        certChain: derToPem(Uint8Array.from([0x30, 0x03, 0x02, 0x01, index])),
        driverVersion: "550.90.07",
        vbiosVersion: `96.00.9F.00.0${index + 1}`,
      })),
    );
    expect(compiled().initialized()).to.equal(0);
  });

  it("turns an NVML error code into its message, and shuts NVML down", async () => {
    compiled().failReports(true);
    try {
      let error: unknown;
      await provider()
        .collect(new Uint8Array(32))
        .catch((e: unknown) => (error = e));
      expect(String(error)).to.include(
        "nvmlDeviceGetConfComputeGpuAttestationReport failed: NVML error 3 (Not Supported)",
      );
      expect(compiled().initialized()).to.equal(0);
    } finally {
      compiled().failReports(false);
    }
  });

  it("reads the CC settings through the versioned R550 struct, and the R535 state where settings are not supported", async () => {
    compiled().setCc(2, 1, 0, 0);
    expect(await provider().systemState()).to.deep.equal({
      environment: "prod",
      ccFeature: "on",
      devToolsMode: "off",
      multiGpuMode: "none",
      readyState: "not-ready",
    });
    // Protected PCIe as the driver reports it: ccFeature off, multiGpuMode PROTECTED_PCIE.
    compiled().setCc(2, 0, 0, 1);
    expect(await provider().systemState()).to.include({ ccFeature: "off", multiGpuMode: "ppcie" });
    compiled().setCc(1, 1, 1, 1);
    compiled().settingsSupported(false);
    try {
      expect(await provider().systemState()).to.deep.include({
        environment: "sim",
        devToolsMode: "on",
        multiGpuMode: "none",
      });
    } finally {
      compiled().settingsSupported(true);
      compiled().setCc(2, 1, 0, 0);
    }
    expect(compiled().initialized()).to.equal(0);
  });

  it("sets the GPUs ready: CUDA work runs only then; a reset is final until the driver reloads", async () => {
    const gpus = provider();
    expect(compiled().cudaLaunch(), "the CC driver refuses work before ready").to.equal(1);
    await gpus.readySwitch.set(true);
    expect(await gpus.readySwitch.get()).to.equal(true);
    expect((await gpus.systemState()).readyState).to.equal("ready");
    expect(compiled().cudaLaunch()).to.equal(0);
    await gpus.readySwitch.set(false);
    expect(compiled().cudaLaunch()).to.equal(1);
    let error: unknown;
    await gpus.readySwitch.set(true).catch((e: unknown) => (error = e));
    expect(String(error)).to.include(
      "nvmlSystemSetConfComputeGpusReadyState failed: NVML error 2 (Invalid Argument)",
    );
    expect(compiled().cudaLaunch()).to.equal(1);
    compiled().reloadDriver();
    expect(compiled().initialized()).to.equal(0);
  });

  it("says which capability is missing when the driver refuses the privileged ready-state control", async () => {
    compiled().privileged(false);
    try {
      let error: unknown;
      await provider()
        .readySwitch.set(true)
        .catch((e: unknown) => (error = e));
      expect(String(error)).to.include("NVML error 4 (Insufficient Permissions)");
      expect(String(error)).to.include("needs CAP_SYS_ADMIN");
      expect(compiled().cudaLaunch()).to.equal(1);
    } finally {
      compiled().privileged(true);
    }
  });

  it("says why when libnvidia-ml cannot be loaded", async () => {
    let error: unknown;
    await loadKoffiNvml(join(compiled().library, "..", "absent.so")).catch((e: unknown) => (error = e));
    expect(String(error)).to.include("is the NVIDIA driver installed in the CVM?");
  });
});
