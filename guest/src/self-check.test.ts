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
import { SimulatedGpus } from "../../operator/src/attestation/simulated/simulated-gpus.ts";
import { SimulatedNvSwitches } from "../../operator/src/attestation/simulated/simulated-nvswitches.ts";
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

  async function board(pdiOf?: ReadonlyMap<string, string>): Promise<EvidenceBundle> {
    const nonce = "3d".repeat(32);
    const key = await newGuestKey();
    const data = await expectedReportData(nonce, key.publicJwk);
    const gpuNames = Array.from({ length: 8 }, (_, i) => `node-a/0000:${(0x18 + i).toString(16)}:00.0`);
    const switchNames = Array.from({ length: 4 }, (_, i) => `node-a/0000:0${5 + i}:00.0`);
    const spdm = gpuNonce(data);
    return {
      nonce,
      publicKey: key.publicJwk,
      tee: await new SimulatedTee(pki).collect(data, { machine: "node-a", tee: "snp" }),
      gpus: [
        ...(await new SimulatedGpus(pki).collect(spdm, { gpus: gpuNames, nvswitches: switchNames })),
        ...(await new SimulatedNvSwitches(pki).collect(spdm, switchNames, {
          gpus: gpuNames,
          ...(pdiOf === undefined ? {} : { pdiOf }),
        })),
      ],
    };
  }

  it("covers a PPCIe board's NVSwitches and their signed NVLink topology", async () => {
    const check = await createSelfCheck(join(dir, "pki", TRUST_ROOTS_FILE));
    const clean = await check(await board());
    expect(clean.gpus.map((g) => g.deviceType)).to.deep.equal([
      ...Array.from({ length: 8 }, () => "gpu"),
      ...Array.from({ length: 4 }, () => "switch"),
    ]);
    expect(clean.gpus.every((g) => g.authentic)).to.equal(true);
    expect(clean.topology).to.deep.equal({ problems: [] });
    const swapped = await check(await board(new Map([["node-a/0000:07:00.0", "another board"]])));
    expect(swapped.topology?.problems).to.have.length(8);
    expect(swapped.topology?.problems[0]).to.match(/^GPU 0's NVLinks reach switches .*; not attested here: /);
  });

  it("has no topology section without NVSwitches", async () => {
    const check = await createSelfCheck(join(dir, "pki", TRUST_ROOTS_FILE));
    expect((await check(await bundle(false))).topology).to.equal(undefined);
  });
});
