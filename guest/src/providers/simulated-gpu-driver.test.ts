import { expect } from "chai";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gpuNonce } from "../../../operator/src/attestation/binding.ts";
import { parseSpdmEvidence } from "../../../operator/src/attestation/gpu/spdm-evidence.ts";
import { generateSimPki, type SimPki } from "../../../operator/src/attestation/simulated/sim-pki.ts";
import { SimulatedGpus } from "../../../operator/src/attestation/simulated/simulated-gpus.ts";
import { SimulatedGpuDriver, SimulatedGpuProvider } from "./simulated-gpu-driver.ts";

describe("simulated GPU driver (tests and demos)", function () {
  this.timeout(30_000);
  let dir: string;
  let pki: SimPki;

  before(async () => {
    pki = await generateSimPki();
  });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "trustgate-sim-gpu-"));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("reports CC on, PROD, devtools off, no PPCIe, not ready: what the simulated GPUs' appraisal expects", async () => {
    const provider = new SimulatedGpuProvider(pki, new SimulatedGpuDriver());
    expect(await provider.systemState()).to.deep.equal({
      ...(await new SimulatedGpus(pki).systemState()),
      readyState: "not-ready",
    });
  });

  it("keeps the ready state in its file, as the real driver does: a reset is final", async () => {
    const file = join(dir, "gpu.json");
    const driver = new SimulatedGpuDriver(file);
    await driver.set(true);
    expect(JSON.parse(await readFile(file, "utf8"))).to.include({ readyState: "ready", resetFinal: false });
    expect(await new SimulatedGpuDriver(file).get()).to.equal(true);
    await driver.set(false);
    let error: unknown;
    await driver.set(true).catch((e: unknown) => (error = e));
    expect(String(error)).to.include("cannot be set until the driver reloads");
    expect(await driver.get()).to.equal(false);
  });

  it("follows a seeded devtools state with devtools-mode measurements, and names a bad field", async () => {
    const file = join(dir, "gpu.json");
    await writeFile(file, JSON.stringify({ devToolsMode: "on", environment: "sim" }));
    const provider = new SimulatedGpuProvider(pki, new SimulatedGpuDriver(file));
    expect(await provider.systemState()).to.include({ devToolsMode: "on", environment: "sim" });
    const nonce = gpuNonce(new Uint8Array(64));
    const [devtools] = await provider.collect(nonce, { machine: "n", gpus: ["n/0000:41:00.0"] });
    const [production] = await new SimulatedGpus(pki).collect(nonce, { gpus: ["n/0000:41:00.0"] });
    const blocks = (evidence = "") =>
      parseSpdmEvidence(Buffer.from(evidence, "base64")).response.blocks.map((b) =>
        Buffer.from(b.value).toString("hex"),
      );
    expect(blocks(devtools?.evidence)).to.not.deep.equal(blocks(production?.evidence));
    expect(blocks(production?.evidence)).to.deep.equal(
      blocks((await new SimulatedGpus(pki).collect(nonce, { gpus: ["other"] }))[0]?.evidence),
    );
    await writeFile(file, JSON.stringify({ multiGpuMode: "mpt" }));
    let error: unknown;
    await provider.systemState().catch((e: unknown) => (error = e));
    expect(String(error)).to.include('gpu.json: multiGpuMode must be one of none, ppcie, nvle, not "mpt"');
  });
});
