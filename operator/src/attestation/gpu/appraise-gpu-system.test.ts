import { expect } from "chai";
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import type { AttestationPolicySpecGpu } from "../../api/v1alpha1/generated/types.ts";
import { appraise, type Appraisal } from "../appraise.ts";
import { expectedReportData, gpuNonce, type GuestPublicKey } from "../binding.ts";
import { compilePolicySpec } from "../policy/compiled-policy.ts";
import { backendsTrusting } from "../simulated/backends.ts";
import { simulatedCollateralSource } from "../simulated/collateral-routes.ts";
import { simulatedOcspSource } from "../simulated/nvidia-ocsp.ts";
import { generateSimPki, simPkiTrustRoots, type SimPki } from "../simulated/sim-pki.ts";
import { SIMULATED_GPU_SYSTEM, SimulatedGpus } from "../simulated/simulated-gpus.ts";
import { SIMULATED_SNP_MEASUREMENT } from "../simulated/simulated-snp.ts";
import { SimulatedTee } from "../simulated/simulated-tee.ts";
import {
  appraiseGpuSystem,
  gpuCcModeOf,
  type GpuCcMode,
  type GpuSystemState,
} from "./appraise-gpu-system.ts";
import { signGpuSystem } from "./gpu-system-signature.ts";

const PROD: GpuSystemState = SIMULATED_GPU_SYSTEM;
const DEVTOOLS: GpuSystemState = { ...PROD, devToolsMode: "on", environment: "sim" };
const PPCIE: GpuSystemState = { ...PROD, ccFeature: "off", multiGpuMode: "ppcie" };

describe("appraisal of the GPUs' CC state (status.evidence.gpuSystem)", () => {
  const cases: [
    string,
    GpuSystemState | undefined,
    AttestationPolicySpecGpu,
    GpuCcMode | undefined,
    string[],
  ][] = [
    ["CC on, PROD, devtools off, on an `on` host", PROD, {}, "on", []],
    ["devtools mode under the default policy", DEVTOOLS, {}, "on", ["spec.gpu.allowDevTools"]],
    ["devtools mode (and its SIM environment) allowed", DEVTOOLS, { allowDevTools: true }, "on", []],
    [
      "devtools mode reported with a PROD environment (older drivers)",
      { ...DEVTOOLS, environment: "prod" },
      {},
      "on",
      ["spec.gpu.allowDevTools"],
    ],
    [
      "the SIM environment without devtools mode",
      { ...PROD, environment: "sim" },
      { allowDevTools: true },
      "on",
      ["status.evidence.gpuSystem.environment"],
    ],
    [
      "CC off",
      { ...PROD, ccFeature: "off", environment: "unavailable" },
      {},
      "on",
      ["status.evidence.gpuSystem.environment", "status.evidence.gpuSystem.ccFeature"],
    ],
    ["PPCIe GPUs on an `on` host", PPCIE, {}, "on", ["status.evidence.gpuSystem.multiGpuMode"]],
    ["PPCIe GPUs on a `ppcie` host (the driver reports ccFeature off)", PPCIE, {}, "ppcie", []],
    ["CC `on` GPUs on a `ppcie` host", PROD, {}, "ppcie", ["status.evidence.gpuSystem.multiGpuMode"]],
    ["no host mode given (trustgate verify): on passes", PROD, {}, undefined, []],
    ["no host mode given: ppcie passes", PPCIE, {}, undefined, []],
    [
      "no host mode given: NVLink encryption is not a mode trustgate attests",
      { ...PROD, multiGpuMode: "nvle" },
      {},
      undefined,
      ["status.evidence.gpuSystem.multiGpuMode"],
    ],
    [
      "not reported: nothing to appraise here (the controller refuses a missing state by its provenance)",
      undefined,
      {},
      "on",
      [],
    ],
  ];
  for (const [name, state, gpu, expectedMode, fields] of cases)
    it(name, () => {
      const policy = compilePolicySpec({ gpu }, "p");
      const violations = appraiseGpuSystem(state, 2, policy.gpu, {
        policyName: "p",
        ...(expectedMode === undefined ? {} : { expectedMode }),
      });
      expect(violations.map((v) => v.field)).to.deep.equal(fields);
    });

  it("names devtools mode precisely, says the state is guest-observed, and points at the signed RIM check", () => {
    const [violation] = appraiseGpuSystem(DEVTOOLS, 1, compilePolicySpec({}, "prod").gpu, {
      policyName: "prod",
    });
    expect(violation?.message).to.equal(
      "the GPUs run in CC devtools mode as NVML reports it in the guest (guest-observed, not signed): debuggers " +
        "and profilers can read GPU state, so GPU memory is not confidential; AttestationPolicy prod does not " +
        "allow it (spec.gpu.allowDevTools: false). A devtools-mode GPU also fails the signed RIM match when RIMs " +
        "are checked",
    );
  });

  it("has nothing to appraise without GPUs, and reads PPCIe from multiGpuMode whatever ccFeature says", () => {
    expect(appraiseGpuSystem(DEVTOOLS, 0, compilePolicySpec({}).gpu, { policyName: "p" })).to.deep.equal([]);
    expect(gpuCcModeOf(PPCIE)).to.equal("ppcie");
    expect(gpuCcModeOf({ ...PPCIE, ccFeature: "on" })).to.equal("ppcie");
    expect(gpuCcModeOf({ ...PROD, ccFeature: "off" })).to.equal("off");
  });
});

describe("appraise: the CC state of simulated H100s under the real verifiers", function () {
  this.timeout(60_000);
  const NONCE = "6d".repeat(32);
  let pki: SimPki;
  let guestKey: GuestPublicKey;
  let guestPrivateKey: KeyObject;

  before(async () => {
    pki = await generateSimPki();
    const pair = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const jwk = pair.publicKey.export({ format: "jwk" });
    guestKey = { kty: "EC", crv: "P-256", x: jwk.x ?? "", y: jwk.y ?? "" };
    guestPrivateKey = pair.privateKey;
  });

  /** A bundle whose GPU measurements are devtools-mode ones when `measuredDevTools`, claiming `reported`. */
  async function bundle(reported: GpuSystemState, measuredDevTools = false): Promise<object> {
    const data = await expectedReportData(NONCE, guestKey);
    const gpus = new SimulatedGpus(pki, { devToolsMode: measuredDevTools });
    return {
      nonce: NONCE,
      publicKey: guestKey,
      gpuSystem: reported,
      gpuSystemSignature: await signGpuSystem(NONCE, reported, guestPrivateKey),
      tee: await new SimulatedTee(pki).collect(data, { machine: "node-a", tee: "snp" }),
      gpus: await gpus.collect(gpuNonce(data), { gpus: ["node-a/0000:41:00.0"] }),
    };
  }

  function appraised(value: object, gpu: AttestationPolicySpecGpu = {}, mode: GpuCcMode = "on") {
    const policy = compilePolicySpec({
      snp: { measurement: [SIMULATED_SNP_MEASUREMENT] },
      gpu,
    });
    return appraise(value, policy, {
      now: new Date(),
      nonce: NONCE,
      expectedTee: "snp",
      expectedGpuMode: mode,
      backends: {
        ...backendsTrusting(simPkiTrustRoots(pki), { ocsp: [simulatedOcspSource(pki.nvidiaOcsp ?? [])] }),
        collateral: simulatedCollateralSource(pki),
      },
    });
  }

  const fields = (report: Appraisal) => report.policy.violations.map((v) => v.field);

  it("affirms production GPUs that report CC on, PROD, devtools off (what the simulated GPUs report)", async () => {
    const report = await appraised(await bundle(await new SimulatedGpus(pki).systemState()));
    expect(report.gpus.map((g) => [g.authentic, g.measurements])).to.deep.equal([[true, "match"]]);
    expect(report.verdict, JSON.stringify(report.policy.violations)).to.equal("affirming");
  });

  it("refuses devtools mode under the default policy with a precise reason; affirms it only with allowDevTools", async () => {
    const value = await bundle(DEVTOOLS);
    const refused = await appraised(value);
    expect(refused.verdict).to.equal("contraindicated");
    expect(fields(refused)).to.deep.equal(["spec.gpu.allowDevTools"]);
    expect(refused.policy.violations[0]?.message).to.include("CC devtools mode");
    const allowed = await appraised(value, { allowDevTools: true });
    expect(allowed.verdict, JSON.stringify(allowed.policy.violations)).to.equal("affirming");
  });

  it("the signed check: devtools-mode measurements fail the RIM match, even when allowed, even when the state lies", async () => {
    const devtools = new SimulatedGpus(pki, { devToolsMode: true });
    expect((await devtools.systemState()).devToolsMode).to.equal("on");
    const honest = await appraised(await bundle(DEVTOOLS, true), { allowDevTools: true });
    expect(honest.verdict).to.equal("contraindicated");
    expect(honest.gpus.map((g) => [g.authentic, g.measurements])).to.deep.equal([[true, "mismatch"]]);
    // A guest that signs "devtools off" for devtools GPUs is still given away by the GPU-signed measurements.
    const lying = await appraised(await bundle(PROD, true));
    expect(lying.verdict).to.equal("contraindicated");
    expect(fields(lying)).to.deep.equal([]);
    expect(lying.gpus[0]?.measurements).to.equal("mismatch");
  });

  it("refuses the SIM environment, CC off, and a CC mode other than the host's", async () => {
    const sim = await appraised(await bundle({ ...PROD, environment: "sim" }), { allowDevTools: true });
    expect(sim.verdict).to.equal("contraindicated");
    expect(fields(sim)).to.deep.equal(["status.evidence.gpuSystem.environment"]);
    const off = await appraised(await bundle({ ...PROD, ccFeature: "off" }));
    expect(fields(off)).to.deep.equal(["status.evidence.gpuSystem.ccFeature"]);
    const ppcieOnOnHost = await appraised(await bundle(PPCIE));
    expect(ppcieOnOnHost.verdict).to.equal("contraindicated");
    expect(ppcieOnOnHost.policy.violations[0]?.message).to.include(
      "the CVM was placed on a host validated for CC mode on",
    );
    expect((await appraised(await bundle(PPCIE), {}, "ppcie")).verdict).to.equal("affirming");
  });
});
