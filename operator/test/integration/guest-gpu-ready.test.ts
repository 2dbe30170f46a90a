import { expect } from "chai";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import type { ConfidentialVM } from "../../src/api/v1alpha1/generated/types.ts";
import { mergePatch } from "../../src/kube/merge-patch.ts";
import {
  SimulatedGpuDriver,
  type SimulatedDriverState,
} from "../../../guest/src/providers/simulated-gpu-driver.ts";
import { waitUntil } from "../support/apply.ts";
import { guestFilesWhenReady, startSuiteStack, type AttestationStack } from "../support/attestation-stack.ts";
import { SIMULATED_SNP_POLICY_SPEC } from "../support/builders/attestation-policy.ts";
import { createConfidentialVM } from "../support/confidential-vms.ts";
import { simulatedGuestArgs } from "../support/guest-from-cloud-init.ts";
import { readConfidentialVM } from "../support/read.ts";
import { startTrustgate } from "../support/trustgate-process.ts";

const NS = "gpu-ready-tests";
const NODE = "gpu-ready-snp-1";
const POLICY = "gpu-ready-sim";
const CVM = { group: "trustgate.io", version: "v1alpha1", plural: "confidentialvms" };

describe("GPU CC ready state on the real API server: the guest sets it only after Attested=True (simulated SNP + H100s)", function () {
  this.timeout(180_000);
  let admin: KubeConfig;
  let dir: string;
  let stack: AttestationStack | undefined;

  const cvm = async (name: string): Promise<ConfidentialVM> => {
    const found = await readConfidentialVM(admin, NS, name);
    if (found === undefined) throw new Error(`${NS}/${name} is gone`);
    return found;
  };
  const attested = (c: ConfidentialVM) => c.status?.conditions?.find((x) => x.type === "Attested");
  /** The simulated driver's state as the guest left it (read as the guest's driver reads it). */
  const driverState = (file: string): Promise<SimulatedDriverState> => new SimulatedGpuDriver(file).state();

  async function startGuest(name: string, stateFile: string): Promise<void> {
    const files = await guestFilesWhenReady(admin, NS, name, join(dir, `guest-${name}`));
    const args = [
      ...simulatedGuestArgs(files, stack?.simPki ?? ""),
      ...["--sim-gpu-state", stateFile, "--log-level", "debug"],
    ];
    stack?.processes.push(startTrustgate(`guest-${name}`, args, dir));
  }

  async function createChallenged(name: string, gpus: number): Promise<void> {
    await createConfidentialVM(admin, NS, name, {
      tee: "snp",
      policyRef: POLICY,
      gpus: { count: gpus },
      nodeSelector: { "kubernetes.io/hostname": NODE },
    });
    await waitUntil(
      `${name} challenged`,
      async () => (await cvm(name)).status?.challenge !== undefined,
      60_000,
    );
  }

  before(async function () {
    ({ admin, dir, stack } = await startSuiteStack("trustgate-gpu-ready-", {
      namespace: NS,
      node: NODE,
      // Re-attestation every 40 s: the test sees the guest answer again with a new key while its GPUs are ready (long
      // enough that the first answer is still the one on the CVM when the guest sets ready, even on a loaded machine).
      policy: {
        name: POLICY,
        spec: {
          ...SIMULATED_SNP_POLICY_SPEC,
          freshness: { challengeTtl: "10s", reattestInterval: "40s", resultTtl: "10m" },
        },
      },
    }));
  });

  after(async () => {
    await stack?.stop();
  });

  it("answers not ready, sets ready only once Attested=True, keeps it across re-attestation and reports it", async () => {
    const stateFile = join(dir, "ready-llm-gpus.json");
    await createChallenged("ready-llm", 2);
    await startGuest("ready-llm", stateFile);
    let first: ConfidentialVM | undefined;
    await waitUntil(
      "the guest to set the GPUs ready",
      async () => {
        const ready = (await driverState(stateFile)).readyState === "ready";
        const c = await cvm("ready-llm");
        if (!ready) return false;
        // Read after the driver: Attested=True came with the signed result the guest acted on.
        expect(attested(c)?.status, "ready only after Attested=True").to.equal("True");
        expect(c.status?.attestation?.keyThumbprint).to.be.a("string");
        first = c;
        return true;
      },
      60_000,
    );
    expect(first?.status?.evidence?.gpuSystem, "the answer it was attested on").to.deep.equal({
      ccFeature: "on",
      devToolsMode: "off",
      environment: "prod",
      multiGpuMode: "none",
      readyState: "not-ready",
    });

    // The next challenge: a new key, evidence reporting the ready state the guest set, the GPUs ready throughout.
    const firstKey = first?.status?.attestation?.keyThumbprint;
    await waitUntil(
      "re-attestation with a new key",
      async () => {
        expect((await driverState(stateFile)).readyState, "a new key alone never resets").to.equal("ready");
        const c = await cvm("ready-llm");
        return (
          attested(c)?.status === "True" &&
          c.status?.attestation?.keyThumbprint !== firstKey &&
          c.status?.evidence?.gpuSystem?.readyState === "ready"
        );
      },
      90_000,
    );
    expect(await driverState(stateFile)).to.deep.include({ readyState: "ready", resetFinal: false });
  });

  it("refuses a devtools-mode GPU with a precise reason; its guest never sets ready, not even on another CVM's genuine result", async () => {
    const stateFile = join(dir, "devtools-llm-gpus.json");
    await writeFile(stateFile, JSON.stringify({ devToolsMode: "on", environment: "sim" }));
    await createChallenged("devtools-llm", 1);
    await startGuest("devtools-llm", stateFile);
    await waitUntil(
      "devtools-llm contraindicated",
      async () => (await cvm("devtools-llm")).status?.attestation?.verdict === "contraindicated",
      60_000,
    );
    const refused = await cvm("devtools-llm");
    expect(refused.status?.evidence?.gpuSystem).to.include({ devToolsMode: "on", environment: "sim" });
    // Two reasons: the signed one (its devtools-mode measurements fail the RIM match) and the guest-observed one.
    expect(attested(refused)).to.include({ status: "False", reason: "MeasurementMismatch" });
    expect(refused.status?.attestation?.violations?.map((v) => v.code)).to.have.members([
      "MeasurementMismatch",
      "PolicyViolation",
    ]);
    expect(refused.status?.attestation?.violations?.map((v) => v.message)).to.include(
      "spec.gpu.allowDevTools: the GPUs run in CC devtools mode as NVML reports it in the guest (guest-observed, " +
        "not signed): debuggers and profilers can read GPU state, so GPU memory is not confidential; " +
        `AttestationPolicy ${POLICY} does not allow it (spec.gpu.allowDevTools: false). A devtools-mode GPU also ` +
        "fails the signed RIM match when RIMs are checked",
    );
    expect(refused.status?.attestation?.token).to.equal(undefined);

    // Whoever can write the status replays ready-llm's genuine signed result, with an affirming verdict for the key.
    const genuine = (await cvm("ready-llm")).status?.attestation?.token;
    expect(genuine).to.be.a("string");
    await admin.makeApiClient(CustomObjectsApi).patchNamespacedCustomObjectStatus(
      {
        ...CVM,
        namespace: NS,
        name: "devtools-llm",
        body: {
          status: {
            attestation: {
              token: genuine,
              verdict: "affirming",
              keyThumbprint: refused.status?.attestation?.keyThumbprint,
            },
          },
        },
      },
      mergePatch,
    );
    const log = join(dir, "guest-devtools-llm.log");
    await waitUntil("the guest to weigh the replayed result", async () =>
      (await readFile(log, "utf8")).includes('unexpected \\"sub\\" claim value'),
    );
    expect(await driverState(stateFile)).to.deep.include({ readyState: "not-ready", resetFinal: false });
    expect(await readFile(log, "utf8")).not.to.include("Set the GPUs ready");
  });
});
