/**
 * A whole PPCIe board (8 H100s and 4 LS10 NVSwitches) appraised on the controller's side: the bundle a guest on it
 * sends (simulated TDX TEE, GPUs and NVSwitches in the real formats, simulated PKI trusted explicitly) against a CVM
 * whose status records the board's 8 GPUs and 4 NVSwitches; and the same board's bundle collected by the guest's
 * NVML and NSCQ FFI code from C test doubles of libnvidia-ml and libnvidia-nscq serving that evidence.
 */
import { expect } from "chai";
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { aConfidentialVM } from "../../../test/support/builders/confidential-vm.ts";
import { expectedReportData, gpuNonce, type GuestPublicKey } from "../../attestation/binding.ts";
import { compilePolicySpec } from "../../attestation/policy/compiled-policy.ts";
import { checkAttestationResult } from "../../attestation/result/result-token.ts";
import {
  generateSigningKey,
  publicJwks,
  type StoredSigningKey,
} from "../../attestation/result/signing-keys.ts";
import { backendsTrusting } from "../../attestation/simulated/backends.ts";
import { simulatedCollateralSource } from "../../attestation/simulated/collateral-routes.ts";
import { simulatedOcspSource } from "../../attestation/simulated/nvidia-ocsp.ts";
import { generateSimPki, simPkiTrustRoots, type SimPki } from "../../attestation/simulated/sim-pki.ts";
import { SimulatedGpus } from "../../attestation/simulated/simulated-gpus.ts";
import { SimulatedNvSwitches } from "../../attestation/simulated/simulated-nvswitches.ts";
import { SIMULATED_TDX_MRTD, SIMULATED_TDX_RTMRS } from "../../attestation/simulated/simulated-tdx.ts";
import { SimulatedTee } from "../../attestation/simulated/simulated-tee.ts";
import type {
  ConfidentialVM,
  ConfidentialVMStatusEvidence,
  ConfidentialVMStatusEvidenceGpu,
} from "../../api/v1alpha1/generated/types.ts";
import { appraiseCvm, type CvmAppraisalContext, DEFAULT_MAX_EVIDENCE_BYTES } from "./appraise-cvm.ts";
import { parsePemCertificates } from "../../crypto/pem.ts";
import type { RimSource } from "../../attestation/gpu/rim/rim-source.ts";
import type { GpuSystemState } from "../../attestation/gpu/appraise-gpu-system.ts";
import { signGpuSystem } from "../../attestation/gpu/gpu-system-signature.ts";
import { GpusAndSwitches } from "../../../../guest/src/providers/nscq/gpus-and-switches.ts";
import { loadKoffiNscq } from "../../../../guest/src/providers/nscq/koffi-nscq.ts";
import { NscqSwitches } from "../../../../guest/src/providers/nscq/nscq-switches.ts";
import { loadKoffiNvml } from "../../../../guest/src/providers/nvml/koffi-nvml.ts";
import { NvmlGpus } from "../../../../guest/src/providers/nvml/nvml-gpus.ts";
import { compileFakeNscq, type FakeNscq } from "../../../../guest/test/fake-nscq/fake-nscq.ts";
import { compileFakeNvml, type FakeNvml } from "../../../../guest/test/fake-nvml/fake-nvml.ts";

const NONCE = "b0".repeat(32);
const NODE = "hgx-1";
const GPU_ADDRESSES = ["18", "2a", "3a", "5d", "9a", "ab", "ba", "db"].map((bus) => `0000:${bus}:00.0`);
const SWITCH_ADDRESSES = ["05", "06", "07", "08"].map((bus) => `0000:${bus}:00.0`);

interface SignedGpuSystem {
  gpuSystem: GpuSystemState;
  gpuSystemSignature: string;
}

/** What NVML reports on a PPCIe board: ccFeature off, multi-GPU mode protected PCIe. */
const PPCIE_STATE: GpuSystemState = {
  ccFeature: "off",
  devToolsMode: "off",
  environment: "prod",
  multiGpuMode: "ppcie",
  readyState: "not-ready",
};

describe("appraiseCvm of a PPCIe board: 8 GPUs and 4 NVSwitches", function () {
  this.timeout(60_000);
  let pki: SimPki;
  let guestKey: GuestPublicKey;
  let guestPrivateKey: KeyObject;
  let boardState: SignedGpuSystem;
  let signingKey: StoredSigningKey;
  let gpus: ConfidentialVMStatusEvidenceGpu[];
  let switches: ConfidentialVMStatusEvidenceGpu[];
  let spdmNonce: Uint8Array;
  let answer: Omit<ConfidentialVMStatusEvidence, "gpus">;

  const policy = compilePolicySpec({
    host: { requireGpuCcMode: "ppcie" },
    tdx: {
      mrTd: [SIMULATED_TDX_MRTD],
      rtmr0: [SIMULATED_TDX_RTMRS[0]],
      rtmr1: [SIMULATED_TDX_RTMRS[1]],
      rtmr2: [SIMULATED_TDX_RTMRS[2]],
    },
  });

  before(async () => {
    pki = await generateSimPki();
    const pair = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const jwk = pair.publicKey.export({ format: "jwk" });
    guestKey = { kty: "EC", crv: "P-256", x: jwk.x ?? "", y: jwk.y ?? "" };
    guestPrivateKey = pair.privateKey;
    boardState = await signedState(PPCIE_STATE);
    signingKey = await generateSigningKey(new Date());
    const data = await expectedReportData(NONCE, guestKey);
    const named = (addresses: readonly string[]) => addresses.map((a) => `${NODE}/${a}`);
    spdmNonce = gpuNonce(data);
    gpus = await new SimulatedGpus(pki).collect(spdmNonce, {
      gpus: named(GPU_ADDRESSES),
      nvswitches: named(SWITCH_ADDRESSES),
    });
    switches = await new SimulatedNvSwitches(pki).collect(spdmNonce, named(SWITCH_ADDRESSES), {
      gpus: named(GPU_ADDRESSES),
    });
    answer = {
      nonce: NONCE,
      publicKey: guestKey,
      tee: await new SimulatedTee(pki).collect(data, { machine: NODE, tee: "tdx" }),
    };
  });

  /** `rims`: where the RIMs a bundle does not carry come from (NVIDIA's RIM service, for a real guest's bundle). */
  function context(rims?: RimSource): CvmAppraisalContext {
    const responders = [...(pki.nvidia.ocspResponders ?? []), ...(pki.nvidiaRim?.ocspResponders ?? [])];
    return {
      maxEvidenceBytes: DEFAULT_MAX_EVIDENCE_BYTES,
      backends: {
        ...backendsTrusting(simPkiTrustRoots(pki), {
          ocsp: [simulatedOcspSource(responders)],
          ...(rims === undefined ? {} : { rims }),
        }),
        collateral: simulatedCollateralSource(pki),
      },
      gpuIdentitiesElsewhere: new Map(),
      signingKey,
      issuer: "trustgate",
      subject: "team-a/hgx-board",
      now: new Date(),
    };
  }

  /** The GPUs' CC state as the guest sends it: signed with its key for this challenge. */
  async function signedState(gpuSystem: GpuSystemState): Promise<SignedGpuSystem> {
    return { gpuSystem, gpuSystemSignature: await signGpuSystem(NONCE, gpuSystem, guestPrivateKey) };
  }

  /** The board CVM as placed: its status names the 8 GPUs and 4 NVSwitches, the guest answered with `devices`. */
  function boardCvm(devices: ConfidentialVMStatusEvidenceGpu[], state = boardState): ConfidentialVM {
    const now = Date.now();
    return aConfidentialVM({ tee: "tdx", gpus: { mode: "ppcie", model: "H100-SXM5-80GB" } }, "hgx-board", {
      status: {
        nodeName: NODE,
        gpus: GPU_ADDRESSES.map((pciAddress) => ({ pciAddress, model: "H100-SXM5-80GB" })),
        nvswitches: SWITCH_ADDRESSES.map((pciAddress) => ({ pciAddress })),
        challenge: {
          nonce: NONCE,
          issuedAt: new Date(now - 60_000).toISOString(),
          expiresAt: new Date(now + 240_000).toISOString(),
        },
        evidence: { ...answer, ...state, gpus: devices },
      },
    });
  }

  it("8 GPUs + 4 NVSwitches (arch LS10): affirming, every device authentic and measured, a signed result", async () => {
    const attestation = await appraiseCvm(boardCvm([...gpus, ...switches]), policy, context());
    expect(attestation.violations, JSON.stringify(attestation.violations)).to.deep.equal([]);
    expect(attestation.verdict).to.equal("affirming");
    expect(attestation.gpus?.map((g) => g.deviceType)).to.deep.equal([
      ...GPU_ADDRESSES.map(() => "gpu"),
      ...SWITCH_ADDRESSES.map(() => "switch"),
    ]);
    expect(attestation.gpus?.every((g) => g.measurements === "match" && g.revocation === "good")).to.equal(
      true,
    );
    expect(new Set(attestation.gpus?.map((g) => g.identity)).size, "12 distinct device identities").to.equal(
      12,
    );
    const check = await checkAttestationResult(attestation.token ?? "", publicJwks([signingKey]), {
      now: new Date(),
    });
    expect(check.ok, check.ok ? "" : check.reason).to.equal(true);
  });

  it("8 GPUs + 3 NVSwitches: a switch missing from the board is a PolicyViolation, no result is signed", async () => {
    const attestation = await appraiseCvm(boardCvm([...gpus, ...switches.slice(0, 3)]), policy, context());
    expect(attestation.verdict).to.equal("contraindicated");
    expect(attestation.violations).to.deep.equal([
      {
        code: "PolicyViolation",
        message: "status.nvswitches: the bundle holds evidence of 3 NVSwitches, 4 are assigned",
      },
    ]);
    expect(attestation.token).to.equal(undefined);
  });

  it("attacker: the right count, but one switch's evidence twice (DuplicateGpu), is refused", async () => {
    const [s0, s1, s2] = switches;
    if (s0 === undefined || s1 === undefined || s2 === undefined) throw new Error("four switches expected");
    const attestation = await appraiseCvm(boardCvm([...gpus, s0, s1, s2, s2]), policy, context());
    expect(attestation.verdict).to.equal("contraindicated");
    expect(attestation.violations?.map((v) => v.code)).to.deep.equal(["DuplicateGpu"]);
    expect(attestation.violations?.[0]?.message).to.match(
      /^GPU 11: gpus\[11\] is the same device .* as gpus\[10\]$/,
    );
    expect(attestation.token).to.equal(undefined);
  });

  it("attacker: 7 GPUs and 5 NVSwitches (a GPU's place taken by a switch) fail both counts", async () => {
    const extra = await new SimulatedNvSwitches(pki).collect(spdmNonce, [`${NODE}/0000:09:00.0`]);
    const attestation = await appraiseCvm(
      boardCvm([...gpus.slice(0, 7), ...switches, ...extra]),
      policy,
      context(),
    );
    expect(attestation.verdict).to.equal("contraindicated");
    expect(attestation.violations?.map((v) => v.message)).to.deep.equal([
      "status.gpus: the bundle holds evidence of 7 GPUs, 8 are assigned",
      "status.nvswitches: the bundle holds evidence of 5 NVSwitches, 4 are assigned",
    ]);
  });

  it("a CC-mode CVM (no NVSwitches assigned) is refused a bundle that carries switch evidence", async () => {
    const ccOn = await signedState({ ...PPCIE_STATE, ccFeature: "on", multiGpuMode: "none" });
    const cvm = boardCvm([...gpus, ...switches], ccOn);
    cvm.spec.gpus = { count: 8, model: "H100-SXM5-80GB" };
    delete cvm.status?.nvswitches;
    const attestation = await appraiseCvm(cvm, policy, context());
    expect(attestation.violations?.map((v) => v.message)).to.deep.equal([
      "status.nvswitches: the bundle holds evidence of 4 NVSwitches, 0 are assigned",
    ]);
  });

  it("attacker: a switch of another board swapped in (authentic, right count) fails the signed topology", async () => {
    const [foreign] = await new SimulatedNvSwitches(pki).collect(spdmNonce, ["other-node/0000:07:00.0"], {
      gpus: GPU_ADDRESSES.map((a) => `${NODE}/${a}`),
    });
    if (foreign === undefined) throw new Error("one switch expected");
    const attestation = await appraiseCvm(
      boardCvm([...gpus, ...switches.slice(0, 3), foreign]),
      policy,
      context(),
    );
    expect(attestation.verdict).to.equal("contraindicated");
    const messages = attestation.violations?.map((v) => v.message) ?? [];
    expect(messages).to.have.length(8);
    for (const [g, message] of messages.entries())
      expect(message).to.match(
        new RegExp(
          `^status.evidence.gpus: GPU ${g}'s NVLinks reach switches .*; not attested here: [0-9a-f]{16}; not reached: [0-9a-f]{16}$`,
        ),
      );
    expect(attestation.token).to.equal(undefined);
  });

  it("attacker: a switch signing a PDI no GPU reaches (a swapped PDI) is contraindicated", async () => {
    const swapped = await new SimulatedNvSwitches(pki).collect(
      spdmNonce,
      SWITCH_ADDRESSES.map((a) => `${NODE}/${a}`),
      {
        gpus: GPU_ADDRESSES.map((a) => `${NODE}/${a}`),
        pdiOf: new Map([[`${NODE}/${SWITCH_ADDRESSES[1] ?? ""}`, "elsewhere"]]),
      },
    );
    const attestation = await appraiseCvm(boardCvm([...gpus, ...swapped]), policy, context());
    expect(attestation.verdict).to.equal("contraindicated");
    expect(attestation.violations?.every((v) => v.message.includes("not attested here"))).to.equal(true);
  });

  it("a board whose GPUs sign no NVLink topology is contraindicated", async () => {
    const flat = await new SimulatedGpus(pki).collect(spdmNonce, {
      gpus: GPU_ADDRESSES.map((a) => `${NODE}/${a}`),
    });
    const attestation = await appraiseCvm(boardCvm([...flat, ...switches]), policy, context());
    expect(attestation.verdict).to.equal("contraindicated");
    expect(attestation.violations?.[0]?.message).to.match(
      /^status.evidence.gpus: GPU 0's NVLinks reach switches \(none\)/,
    );
  });

  describe("the bundle collected through the NVML and NSCQ FFI code against their C test doubles", () => {
    let nvml: FakeNvml | undefined;
    let nscq: FakeNscq | undefined;
    const doubles = (): { nvml: FakeNvml; nscq: FakeNscq } => {
      if (nvml === undefined || nscq === undefined) throw new Error("no compiled doubles");
      return { nvml, nscq };
    };
    const der = (pem: string): Uint8Array =>
      Uint8Array.from(Buffer.concat(parsePemCertificates(pem, "chain").map((c) => Buffer.from(c))));
    const record = (entries: readonly ConfidentialVMStatusEvidenceGpu[]): void => {
      for (const [i, entry] of entries.entries()) {
        const report = Uint8Array.from(Buffer.from(entry.evidence, "base64"));
        if (entry.arch === "LS10")
          doubles().nscq.addSwitch({
            uuid: Uint8Array.from({ length: 16 }, (_, b) => (b === 0 ? i : 0x5a)),
            nonce: spdmNonce,
            report,
            chain: der(entry.certChain),
          });
        else
          doubles().nvml.recordDevice({
            nonce: spdmNonce,
            report,
            chain: der(entry.certChain),
            vbiosVersion: entry.vbiosVersion ?? "",
          });
      }
    };
    /** A stand-in for NVIDIA's RIM service: the simulated firmware's signed RIMs, by the kind of RIM ID. */
    const rimService = (): RimSource => {
      const byPrefix: [string, string | undefined][] = [
        ["NV_GPU_DRIVER_", gpus[0]?.rims?.driver],
        ["NV_GPU_VBIOS_", gpus[0]?.rims?.vbios],
        ["NV_SWITCH_BIOS_", switches[0]?.rims?.vbios],
      ];
      return { get: (id) => Promise.resolve(byPrefix.find(([prefix]) => id.startsWith(prefix))?.[1]) };
    };
    const provider = () =>
      new GpusAndSwitches(
        new NvmlGpus(() => loadKoffiNvml(doubles().nvml.library)),
        new NscqSwitches(() => loadKoffiNscq(doubles().nscq.library)),
      );
    const collect = (): Promise<ConfidentialVMStatusEvidenceGpu[]> =>
      provider().collect(spdmNonce, { machine: NODE, gpus: [] });
    /** The board as the guest's FFI code collects it: the devices and, from NVML, the signed CC state. */
    const collectedBoard = async (): Promise<ConfidentialVM> => {
      const devices = await collect();
      return boardCvm(devices, await signedState(await provider().systemState()));
    };

    before(async function () {
      nvml = await compileFakeNvml();
      nscq = await compileFakeNscq();
      if (nvml === undefined || nscq === undefined) this.skip();
    });
    beforeEach(() => {
      nvml?.forgetDevices();
      nscq?.reset();
      // NVML_CC_SYSTEM_ENVIRONMENT_PROD, CC feature disabled, devtools off, NVML_CC_SYSTEM_MULTIGPU_PROTECTED_PCIE.
      nvml?.setCc(2, 0, 0, 1);
    });
    after(async () => {
      await nvml?.remove();
      await nscq?.remove();
    });

    it("8 GPUs + 4 NVSwitches: affirming, topology checked", async () => {
      record([...gpus, ...switches]);
      const board = await collectedBoard();
      expect(board.status?.evidence?.gpus?.map((g) => g.arch)).to.deep.equal([
        ...GPU_ADDRESSES.map(() => "HOPPER"),
        ...SWITCH_ADDRESSES.map(() => "LS10"),
      ]);
      expect(board.status?.evidence?.gpuSystem?.multiGpuMode).to.equal("ppcie");
      const attestation = await appraiseCvm(board, policy, context(rimService()));
      expect(attestation.violations, JSON.stringify(attestation.violations)).to.deep.equal([]);
      expect(attestation.verdict).to.equal("affirming");
    });

    it("a switch removed from the board: contraindicated, naming the count", async () => {
      record([...gpus, ...switches.slice(1)]);
      const attestation = await appraiseCvm(await collectedBoard(), policy, context(rimService()));
      expect(attestation.verdict).to.equal("contraindicated");
      expect(attestation.violations?.map((v) => v.message)).to.deep.equal([
        "status.nvswitches: the bundle holds evidence of 3 NVSwitches, 4 are assigned",
      ]);
    });

    it("a switch whose signed PDI is swapped: contraindicated, naming the PDIs", async () => {
      const swapped = await new SimulatedNvSwitches(pki).collect(
        spdmNonce,
        SWITCH_ADDRESSES.map((a) => `${NODE}/${a}`),
        {
          gpus: GPU_ADDRESSES.map((a) => `${NODE}/${a}`),
          pdiOf: new Map([[`${NODE}/${SWITCH_ADDRESSES[0] ?? ""}`, "elsewhere"]]),
        },
      );
      record([...gpus, ...swapped]);
      const attestation = await appraiseCvm(await collectedBoard(), policy, context(rimService()));
      expect(attestation.verdict).to.equal("contraindicated");
      const messages = attestation.violations?.map((v) => v.message) ?? [];
      expect(messages).to.have.length(8);
      expect(messages[0]).to.match(
        /^status.evidence.gpus: GPU 0's NVLinks reach switches .*; not attested here: [0-9a-f]{16}; not reached: [0-9a-f]{16}$/,
      );
    });
  });
});
