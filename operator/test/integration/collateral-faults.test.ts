import { expect } from "chai";
import { join } from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";
import type { ConfidentialVM } from "../../src/api/v1alpha1/generated/types.ts";
import { waitUntil } from "../support/apply.ts";
import { guestFilesWhenReady, startSuiteStack, type AttestationStack } from "../support/attestation-stack.ts";
import { createConfidentialVM } from "../support/confidential-vms.ts";
import { simulatedGuestArgs } from "../support/guest-from-cloud-init.ts";
import { challengeRounds } from "../support/challenge-rounds.ts";
import { readExistingConfidentialVM } from "../support/read.ts";
import { startTrustgate } from "../support/trustgate-process.ts";

const NS = "collateral-faults";
const NODE = "collateral-snp-1";
const POLICY = "collateral-sim";

/**
 * The controller fetching collateral from simulated Intel PCS and AMD KDS over HTTPS, while the service misbehaves:
 * the CVM names the service, the URL and the cause; the controller keeps running; once the service recovers the
 * next appraisal succeeds.
 */
describe("collateral service faults on the real API server (simulated SNP TEE, AMD KDS over HTTPS)", function () {
  this.timeout(240_000);
  let admin: KubeConfig;
  let dir: string;
  let stack: AttestationStack | undefined;

  const read = (name: string): Promise<ConfidentialVM> => readExistingConfidentialVM(admin, NS, name);
  const { rechallenge } = challengeRounds(
    () => admin,
    POLICY,
    () => read("kds-down"),
  );
  const attested = (cvm: ConfidentialVM) => cvm.status?.conditions?.find((c) => c.type === "Attested");
  before(async function () {
    ({ admin, dir, stack } = await startSuiteStack("trustgate-collateral-faults-", {
      namespace: NS,
      node: NODE,
      policy: { name: POLICY },
      collateralServices: true,
    }));
  });
  after(async () => {
    await stack?.stop();
  });

  it("a KDS answering 503 leaves the CVM unattested with the service, URL and status named; after it recovers the CVM is Attested", async function () {
    const services = stack?.collateral;
    if (stack === undefined || services === undefined) throw new Error("no stack");
    services.injectFault({ pathPrefix: "/vcek/v1/", status: 503, body: "Service Unavailable" });
    await createConfidentialVM(admin, NS, "kds-down", { tee: "snp", policyRef: POLICY, gpus: { count: 1 } });
    const files = await guestFilesWhenReady(admin, NS, "kds-down", join(dir, "guest-kds-down"));
    stack.processes.push(startTrustgate("guest-kds-down", simulatedGuestArgs(files, stack.simPki), dir));
    await waitUntil(
      "Attested=False naming the KDS failure",
      async () => (attested(await read("kds-down"))?.message ?? "").includes("CollateralUnavailable"),
      90_000,
    );
    const failed = attested(await read("kds-down"));
    expect(failed?.status).to.equal("False");
    expect(failed?.message).to.include(`AMD KDS ${services.url}/vcek/v1/`).and.include("503");
    expect(stack.controller.hasExited(), "the controller keeps running").to.equal(false);
    expect(services.seen.filter((r) => r.path.startsWith("/vcek/v1/")).length, "retried").to.be.greaterThan(
      1,
    );

    services.clearFaults();
    await rechallenge();
    await waitUntil(
      "Attested once KDS answers again",
      async () => attested(await read("kds-down"))?.status === "True",
      90_000,
    );
  });
});
