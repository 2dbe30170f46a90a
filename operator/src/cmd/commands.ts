import type { CommandEntry } from "../cli/main.ts";

export const commands: readonly CommandEntry[] = [
  {
    name: "version",
    summary: "Print the trustgate version",
    load: async () => (await import("./version.ts")).versionCommand,
  },
  {
    name: "agent",
    summary: "Report this node's confidential-computing readiness (DaemonSet agent)",
    load: async () => (await import("./agent.ts")).agentCommand,
  },
  {
    name: "cc-probe",
    summary: "Record GPU CC and PPCIe modes with NVIDIA's gpu-admin-tools (privileged init container)",
    load: async () => (await import("./cc-probe.ts")).ccProbeCommand,
  },
  {
    name: "controller",
    summary: "Run the trustgate controllers",
    load: async () => (await import("./controller.ts")).controllerCommand,
  },
  {
    name: "webhook",
    summary: "Run the validating admission webhook and the JWKS endpoint (HTTPS)",
    load: async () => (await import("./webhook.ts")).webhookCommand,
  },
  {
    name: "guest",
    summary: "Attest this confidential VM to trustgate and receive its secrets (runs inside the CVM)",
    load: async () => (await import("./guest.ts")).guestCommand,
  },
  {
    name: "verify",
    summary: "Verify an evidence bundle offline and print the verdict (JSON, YAML or text)",
    load: async () => (await import("./verify.ts")).verifyCommand,
  },
  {
    name: "reference-values",
    summary: "Print an AttestationPolicy pinning the measurements of a known-good boot",
    load: async () => (await import("./reference-values.ts")).referenceValuesCommand,
  },
  {
    name: "collateral",
    summary: "Mirror Intel and AMD attestation collateral for air-gapped clusters (collateral sync)",
    load: async () => (await import("./collateral-sync.ts")).collateralCommand,
  },
  {
    name: "doctor",
    summary: "Check an installed trustgate: CRDs served, controller leading, webhook TLS, JWKS (read-only)",
    load: async () => (await import("./doctor.ts")).doctorCommand,
  },
  {
    name: "uninstall",
    summary:
      "Remove trustgate's Node labels and ConfidentialVM finalizers before uninstalling (dry run by default)",
    load: async () => (await import("./uninstall.ts")).uninstallCommand,
  },
  {
    name: "verify-token",
    summary: "Check a signed attestation result offline against the operator's JWKS",
    load: async () => (await import("./verify-token.ts")).verifyTokenCommand,
  },
  {
    name: "completion",
    summary: "Print a bash or zsh completion script",
    load: async () => (await import("./completion.ts")).completionCommand,
  },
];
