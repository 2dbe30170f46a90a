import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expectedReportData, gpuNonce } from "../../operator/src/attestation/binding.ts";
import {
  createSimPki,
  TRUST_ROOTS_FILE,
  type SimPki,
} from "../../operator/src/attestation/simulated/sim-pki.ts";
import { SimulatedTee } from "../../operator/src/attestation/simulated/simulated-tee.ts";
import type { EvidenceBundle } from "../../operator/src/attestation/types.ts";
import { newGuestKey } from "./guest-key.ts";
import { SimulatedGpuDriver, SimulatedGpuProvider } from "./providers/simulated-gpu-driver.ts";
import { createSelfCheck } from "./self-check.ts";

describe("self-check (the operator's verifiers on the guest's own evidence)", function () {
  this.timeout(60_000);
  let dir: string;
  let pki: SimPki;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "trustgate-self-check-"));
    pki = await createSimPki(join(dir, "pki"));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function bundle(devTools: boolean): Promise<EvidenceBundle> {
    const nonce = "3c".repeat(32);
    const key = await newGuestKey();
    const data = await expectedReportData(nonce, key.publicJwk);
    const gpus = new SimulatedGpuProvider(pki, new SimulatedGpuDriver());
    const hardware = { machine: "node-a", tee: "snp" as const, gpus: ["node-a/0000:41:00.0"] };
    const system = await gpus.systemState();
    return {
      nonce,
      publicKey: key.publicJwk,
      gpuSystem: devTools ? { ...system, devToolsMode: "on", environment: "sim" } : system,
      tee: await new SimulatedTee(pki).collect(data, hardware),
      gpus: await gpus.collect(gpuNonce(data), hardware),
    };
  }

  it("reports the GPUs' CC state, and what the default policy says of devtools mode", async () => {
    const check = await createSelfCheck(join(dir, "pki", TRUST_ROOTS_FILE));
    const clean = await check(await bundle(false));
    expect(clean.gpuSystem).to.deep.equal({
      ccFeature: "on",
      devToolsMode: "off",
      environment: "prod",
      multiGpuMode: "none",
      readyState: "not-ready",
      problems: [],
    });
    const devtools = await check(await bundle(true));
    expect(devtools.verdict).to.equal("contraindicated");
    expect(devtools.gpuSystem?.problems).to.have.length(1);
    expect(devtools.gpuSystem?.problems[0]).to.include("CC devtools mode");
  });
});
