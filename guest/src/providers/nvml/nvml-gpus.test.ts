import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { createLocalGpuVerifier } from "../../../../operator/src/attestation/gpu/index.ts";
import { nvidiaAnchors } from "../../../../operator/src/attestation/simulated/nvidia-pki.ts";
import { generateSimPki, type SimPki } from "../../../../operator/src/attestation/simulated/sim-pki.ts";
import { SimulatedGpus } from "../../../../operator/src/attestation/simulated/simulated-gpus.ts";
import type { GpuEvidence } from "../types.ts";
import type { NvmlApi } from "./nvml-api.ts";
import { NvmlError } from "./nvml-api.ts";
import { NvmlGpus } from "./nvml-gpus.ts";

interface FakeDevice {
  arch: number;
  entry: GpuEvidence;
}

/** NVML as the provider sees it: fills the real struct layouts from prepared evidence. */
function fakeNvml(
  devices: FakeDevice[],
  calls: string[],
  failOn?: string,
  cc: { settings?: number[]; state?: number[]; ready?: number } = {},
): NvmlApi {
  const call = (name: string): void => {
    calls.push(name);
    if (name === failOn) throw new NvmlError(name, 3, "Not Supported");
  };
  return {
    init: () => {
      call("init");
    },
    shutdown: () => {
      call("shutdown");
    },
    driverVersion: () => "550.90.07",
    deviceCount: () => devices.length,
    deviceHandle: (index) => devices[index],
    architecture: (device) => (device as FakeDevice).arch,
    vbiosVersion: () => "96.00.9F.00.01",
    attestationReport: (device, struct) => {
      call("attestationReport");
      calls.push(`nonce:${Buffer.from(struct.subarray(12, 44)).toString("hex")}`);
      const report = Buffer.from((device as FakeDevice).entry.evidence, "base64");
      new DataView(struct.buffer, struct.byteOffset).setUint32(4, report.length, true);
      struct.set(report, 44);
    },
    certificate: (device, struct) => {
      const chain = Buffer.from((device as FakeDevice).entry.certChain, "latin1");
      new DataView(struct.buffer, struct.byteOffset).setUint32(4, chain.length, true);
      struct.set(chain, 8 + 0x1000);
    },
    ccSystemState: (struct) => {
      call("ccSystemState");
      const view = new DataView(struct.buffer, struct.byteOffset);
      (cc.state ?? [2, 1, 0]).forEach((v, i) => {
        view.setUint32(4 * i, v, true);
      });
    },
    ...(cc.settings === undefined
      ? {}
      : {
          ccSettings: (struct: Uint8Array) => {
            call("ccSettings");
            const view = new DataView(struct.buffer, struct.byteOffset);
            calls.push(`version:${view.getUint32(0, true).toString(16)}`);
            cc.settings?.forEach((v, i) => {
              view.setUint32(4 + 4 * i, v, true);
            });
          },
        }),
    gpusReadyState: () => {
      call("gpusReadyState");
      return cc.ready ?? 0;
    },
    setGpusReadyState: (state) => {
      call(`setGpusReadyState:${state}`);
    },
  };
}

describe("NVML GPU provider (NVML faked at the struct level)", function () {
  this.timeout(20_000);
  let pki: SimPki;
  let nonce: Uint8Array;
  let devices: FakeDevice[];

  before(async () => {
    pki = await generateSimPki();
    nonce = new Uint8Array(randomBytes(32));
    const entries = await new SimulatedGpus(pki).collect(nonce, { gpus: ["gpu-a", "gpu-b"] });
    devices = entries.map((entry) => ({ arch: 9, entry }));
  });

  it("collects every GPU's SPDM evidence for the nonce with its chain and versions; the GPU verifier accepts them", async () => {
    const calls: string[] = [];
    const gpus = await new NvmlGpus(() => Promise.resolve(fakeNvml(devices, calls))).collect(nonce);
    expect(gpus.map((g) => [g.arch, g.driverVersion, g.vbiosVersion])).to.deep.equal([
      ["HOPPER", "550.90.07", "96.00.9F.00.01"],
      ["HOPPER", "550.90.07", "96.00.9F.00.01"],
    ]);
    const results = await createLocalGpuVerifier({
      anchors: nvidiaAnchors(pki.nvidia.root.toString()),
    }).verify(gpus, {
      now: new Date(),
      expectedNonce: nonce,
    });
    // NVML gives evidence, not RIMs (those come with the bundle or from a RIM service): only those are missing.
    const missing = ["RimUnavailable", "RimUnavailable"];
    expect(results.map((r) => [r.authentic, r.errors.map((e) => e.code)])).to.deep.equal([
      [true, missing],
      [true, missing],
    ]);
    const hex = Buffer.from(nonce).toString("hex");
    expect(calls).to.deep.equal([
      "init",
      "attestationReport",
      `nonce:${hex}`,
      "attestationReport",
      `nonce:${hex}`,
      "shutdown",
    ]);
  });

  it("refuses a GPU that cannot attest, and shuts NVML down after any failure", async () => {
    const calls: string[] = [];
    const ampere = [{ ...devices[0]!, arch: 7 }];
    let error: unknown;
    await new NvmlGpus(() => Promise.resolve(fakeNvml(ampere, calls)))
      .collect(nonce)
      .catch((e: unknown) => (error = e));
    expect(String(error)).to.include("GPU 0: NVML architecture 7 is neither Hopper nor Blackwell");
    expect(calls.at(-1)).to.equal("shutdown");
    const failing: string[] = [];
    await new NvmlGpus(() => Promise.resolve(fakeNvml(devices, failing, "attestationReport")))
      .collect(nonce)
      .catch((e: unknown) => (error = e));
    expect(String(error)).to.include("attestationReport failed: NVML error 3 (Not Supported)");
    expect(failing.at(-1)).to.equal("shutdown");
  });

  it("reads the CC settings (struct version v1) and the ready state, falling back to the R535 state call", async () => {
    const calls: string[] = [];
    const settings = { settings: [2, 1, 0, 1], ready: 1 };
    expect(
      await new NvmlGpus(() => Promise.resolve(fakeNvml([], calls, undefined, settings))).systemState(),
    ).to.deep.equal({
      environment: "prod",
      ccFeature: "on",
      devToolsMode: "off",
      multiGpuMode: "ppcie",
      readyState: "ready",
    });
    expect(calls).to.deep.equal(["init", "ccSettings", "version:1000014", "gpusReadyState", "shutdown"]);

    const older: string[] = [];
    const r535 = { state: [1, 1, 1], ready: 7 };
    expect(
      await new NvmlGpus(() => Promise.resolve(fakeNvml([], older, undefined, r535))).systemState(),
    ).to.deep.equal({
      environment: "sim",
      ccFeature: "on",
      devToolsMode: "on",
      multiGpuMode: "none",
      readyState: "unknown",
    });
    expect(older).to.deep.equal(["init", "ccSystemState", "gpusReadyState", "shutdown"]);

    const unsupported: string[] = [];
    const failing = fakeNvml([], unsupported, "ccSettings", { settings: [2, 1, 0, 0] });
    expect((await new NvmlGpus(() => Promise.resolve(failing)).systemState()).multiGpuMode).to.equal("none");
    expect(unsupported).to.include("ccSystemState");
  });

  it("refuses CC values nvml.h does not define, naming them", async () => {
    let error: unknown;
    await new NvmlGpus(() => Promise.resolve(fakeNvml([], [], undefined, { settings: [2, 1, 0, 9] })))
      .systemState()
      .catch((e: unknown) => (error = e));
    expect(String(error)).to.include("NVML reports multiGpuMode 9, which nvml.h does not define");
  });

  it("sets the ready state with NVML_CC_ACCEPTING_CLIENT_REQUESTS_TRUE / _FALSE inside an NVML session", async () => {
    const calls: string[] = [];
    const provider = new NvmlGpus(() => Promise.resolve(fakeNvml([], calls)));
    await provider.readySwitch.set(true);
    await provider.readySwitch.set(false);
    expect(await provider.readySwitch.get()).to.equal(false);
    expect(calls).to.deep.equal([
      ...["init", "setGpusReadyState:1", "shutdown"],
      ...["init", "setGpusReadyState:0", "shutdown"],
      ...["init", "gpusReadyState", "shutdown"],
    ]);
  });

  it("binds NVML only when first used, and reports why it cannot", async () => {
    let loads = 0;
    const provider = new NvmlGpus(() => {
      loads++;
      return Promise.reject(new Error("cannot load libnvidia-ml.so.1"));
    });
    expect(loads).to.equal(0);
    let error: unknown;
    await provider.collect(nonce).catch((e: unknown) => (error = e));
    expect(String(error)).to.include("cannot load libnvidia-ml.so.1");
  });
});
