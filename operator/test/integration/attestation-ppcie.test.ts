import { expect } from "chai";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";
import { collectEvidence, type EvidenceProviders } from "../../../guest/src/evidence.ts";
import { newGuestKey } from "../../../guest/src/guest-key.ts";
import { hardwareHints } from "../../../guest/src/hardware.ts";
import type { CvmClient } from "../../../guest/src/kube/cvm-client.ts";
import { createProviders } from "../../../guest/src/providers/select.ts";
import { expectedReportData, gpuNonce } from "../../src/attestation/binding.ts";
import type { ConfidentialVM } from "../../src/api/v1alpha1/generated/types.ts";
import { loadSimPki } from "../../src/attestation/simulated/sim-pki.ts";
import { SimulatedNvSwitches } from "../../src/attestation/simulated/simulated-nvswitches.ts";
import type { EvidenceBundle } from "../../src/attestation/types.ts";
import { waitUntil } from "../support/apply.ts";
import { startSuiteStack, type AttestationStack } from "../support/attestation-stack.ts";
import { SIMULATED_TDX_POLICY_SPEC } from "../support/builders/attestation-policy.ts";
import { createConfidentialVM } from "../support/confidential-vms.ts";
import { guestClientWhenReady } from "../support/cvm-guest.ts";
import { simulatedGuestArgs, type GuestFiles } from "../support/guest-from-cloud-init.ts";
import { challengeRounds } from "../support/challenge-rounds.ts";
import { readExistingConfidentialVM } from "../support/read.ts";
import { startTrustgate } from "../support/trustgate-process.ts";

const NS = "attest-ppcie";
const NODE = "ppcie-board-1";
const NAME = "hgx-board";
const POLICY = "ppcie-sim";

/** What NVML reports on a board in protected PCIe mode: the CC feature off, multi-GPU mode PPCIe. */
const PPCIE_DRIVER_STATE = {
  ccFeature: "off",
  devToolsMode: "off",
  environment: "prod",
  multiGpuMode: "ppcie",
  readyState: "not-ready",
  resetFinal: false,
};

/**
 * A whole HGX board (8 H100s + 4 NVSwitches, validated as gpu-cc=ppcie by its agent) as one TDX CVM: the guest
 * process answers with every device's SPDM evidence, and the host owner's attempts to pass off another board's
 * switch, or to leave one out, are refused on the switches' and GPUs' signed topology.
 */
describe("a PPCIe board CVM on the real API server: 8 H100s + 4 NVSwitches, topology checked (simulated TDX, GPUs, switches)", function () {
  this.timeout(240_000);
  let admin: KubeConfig;
  let dir: string;
  let stack: AttestationStack | undefined;
  let files: GuestFiles;
  let asGuest: CvmClient | undefined;
  let providers: EvidenceProviders;
  let stateFile: string;

  const read = (): Promise<ConfidentialVM> => readExistingConfidentialVM(admin, NS, NAME);
  const attested = (cvm: ConfidentialVM) => cvm.status?.conditions?.find((c) => c.type === "Attested");

  const { nextChallenge, appraised } = challengeRounds(() => admin, POLICY, read);

  before(async function () {
    ({ admin, dir, stack } = await startSuiteStack("trustgate-ppcie-", {
      namespace: NS,
      node: NODE,
      fixture: "hgx-ppcie",
      policy: { name: POLICY, spec: { ...SIMULATED_TDX_POLICY_SPEC, host: { requireGpuCcMode: "ppcie" } } },
    }));
    await createConfidentialVM(admin, NS, NAME, {
      tee: "tdx",
      policyRef: POLICY,
      gpus: { mode: "ppcie", model: "H100-SXM5-80GB" },
      nodeSelector: { "kubernetes.io/hostname": NODE },
    });
    ({ files, client: asGuest } = await guestClientWhenReady(admin, NS, NAME, join(dir, "guest")));
    stateFile = join(dir, "gpu-state.json");
    await writeFile(stateFile, JSON.stringify(PPCIE_DRIVER_STATE));
    providers = await createProviders({
      tee: "simulated",
      gpu: "simulated",
      tsmRoot: "",
      simPki: stack.simPki,
      simGpuState: stateFile,
    });
    await waitUntil(
      "the board's GPUs and switches in status",
      async () => {
        const status = (await read()).status;
        return status?.gpus?.length === 8 && status.nvswitches?.length === 4;
      },
      60_000,
    );
  });

  after(async function () {
    asGuest?.close();
    await stack?.stop();
  });

  it("attests the board through the guest process: 8 GPUs and 4 switches authentic, their topology consistent", async function () {
    const nonce = await nextChallenge();
    const guest = startTrustgate(
      "guest-once",
      [...simulatedGuestArgs(files, stack?.simPki ?? ""), "--sim-gpu-state", stateFile, "--once"],
      dir,
    );
    expect(await guest.exited).to.equal("exit code 0");
    const cvm = await appraised(nonce);
    expect(attested(cvm)?.status, JSON.stringify(cvm.status?.attestation?.violations)).to.equal("True");
    expect(cvm.status?.attestation?.gpus?.map((g) => g.deviceType)).to.deep.equal([
      ...Array.from({ length: 8 }, () => "gpu"),
      ...Array.from({ length: 4 }, () => "switch"),
    ]);
    expect(cvm.status?.evidence?.gpuSystem?.multiGpuMode).to.equal("ppcie");
  });

  it("refuses another board's switch swapped in for one of this board's (authentic, right count): the GPUs' signed links name other switches", async function () {
    const nonce = await nextChallenge();
    const hints = hardwareHints(await read());
    const key = await newGuestKey();
    const bundle: EvidenceBundle = await collectEvidence(nonce, key, providers, hints);
    const devices = bundle.gpus ?? [];
    expect(devices).to.have.length(12);
    // The host owner's other board: a genuine switch answering the same nonce, signing that board's PDIs.
    const pki = await loadSimPki(stack?.simPki ?? "");
    const [foreign] = await new SimulatedNvSwitches(pki).collect(
      gpuNonce(await expectedReportData(nonce, key.publicJwk)),
      ["other-board/0000:07:00.0"],
      { gpus: hints.gpus.map((g) => g.replace(NODE, "other-board")) },
    );
    if (foreign === undefined) throw new Error("one foreign switch expected");
    bundle.gpus = [...devices.slice(0, 11), foreign];
    await asGuest?.applyEvidence(bundle);
    const cvm = await appraised(nonce);
    expect(attested(cvm)?.status).to.equal("False");
    expect(cvm.status?.attestation?.verdict).to.equal("contraindicated");
    expect(cvm.status?.attestation?.token).to.equal(undefined);
    const messages = cvm.status?.attestation?.violations?.map((v) => v.message) ?? [];
    expect(messages.some((m) => /GPU \d's NVLinks reach switches .*not attested here/.test(m))).to.equal(
      true,
      JSON.stringify(messages),
    );
  });

  it("refuses the board's bundle with one switch left out: 3 NVSwitches where 4 are assigned", async function () {
    const nonce = await nextChallenge();
    const bundle = await collectEvidence(nonce, await newGuestKey(), providers, hardwareHints(await read()));
    bundle.gpus = (bundle.gpus ?? []).slice(0, 11);
    await asGuest?.applyEvidence(bundle);
    const cvm = await appraised(nonce);
    expect(cvm.status?.attestation?.verdict).to.equal("contraindicated");
    expect(cvm.status?.attestation?.violations?.map((v) => v.message)).to.include(
      "status.nvswitches: the bundle holds evidence of 3 NVSwitches, 4 are assigned",
    );
  });
});
