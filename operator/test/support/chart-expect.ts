import { expect } from "chai";
import { type Manifest, onlyContainer, podSpec } from "./chart-manifests.ts";

/**
 * The chart's baseline for its unprivileged Deployments (controller, webhook): 2 replicas under their own
 * ServiceAccount, non-root with the RuntimeDefault seccomp profile, a read-only root filesystem, no privilege
 * escalation and no capabilities; the container runs `trustgate <subcommand>`.
 */
export function expectRestrictedDeployment(
  deployment: Manifest,
  serviceAccount: string,
  subcommand: string,
): void {
  const spec = podSpec(deployment);
  const container = onlyContainer(deployment);
  expect((deployment["spec"] as { replicas: number }).replicas).to.equal(2);
  expect(spec.serviceAccountName).to.equal(serviceAccount);
  expect(spec.securityContext).to.deep.include({
    runAsNonRoot: true,
    seccompProfile: { type: "RuntimeDefault" },
  });
  expect(container.securityContext).to.deep.equal({
    runAsNonRoot: true,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
  });
  expect(container.args?.[0]).to.equal(subcommand);
}
