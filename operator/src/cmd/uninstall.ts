import { type Command, EXIT_FAILURE, EXIT_OK, type ParsedArgs, UsageError } from "../cli/command.ts";
import { loadKubeConfig } from "../kube/kubeconfig.ts";
import { parseDuration } from "../runtime/duration.ts";
import { describeError, KubeUninstall } from "../uninstall/kube-uninstall.ts";
import { type ConfidentialVmMode, describeStep, planUninstall } from "../uninstall/plan.ts";

const USAGE = `Usage: trustgate uninstall [--yes] [--confidential-vms release|delete] [--stop-controller <namespace>/<deployment>]
                          [--timeout <duration>] [--kubeconfig <file>]

Undoes what trustgate did to the cluster, so that removing it leaves nothing stuck: removes the
trustgate.io/ labels (and the owned-labels annotation) from every Node, and trustgate's finalizer from every
ConfidentialVM. ConfidentialVMs already being deleted lose their VirtualMachine first.
  --confidential-vms release   (default) keep ConfidentialVMs and their VMs running; deleting one later deletes
                               its VM through the owner reference
  --confidential-vms delete    delete every ConfidentialVM and its VirtualMachine
  --stop-controller ns/name    first scale the controller Deployment to 0 and wait for its pods to go (it would
                               put the labels and finalizers back)
  --timeout                    how long to wait for the controller's pods (default 120s)
Without --yes it only prints what it would do (a dry run). The CRDs, AttestationPolicies and ConfidentialHosts stay.
Exit status: 0 done (or dry run), 1 a step failed, 2 usage error.`;

function text(args: ParsedArgs, name: string): string | undefined {
  const value = args.values[name];
  return typeof value === "string" ? value : undefined;
}

function controllerRef(value: string | undefined): { namespace: string; name: string } | undefined {
  if (value === undefined) return undefined;
  const match = /^([a-z0-9][-a-z0-9]*)\/([a-z0-9][-a-z0-9.]*)$/.exec(value);
  if (match?.[1] === undefined || match[2] === undefined)
    throw new UsageError(
      `trustgate uninstall: --stop-controller ${JSON.stringify(value)} is not <namespace>/<deployment>`,
    );
  return { namespace: match[1], name: match[2] };
}

export const uninstallCommand: Command = {
  name: "uninstall",
  summary:
    "Remove trustgate's Node labels and ConfidentialVM finalizers before uninstalling (dry run by default)",
  usage: USAGE,
  options: {
    yes: { type: "boolean" },
    "confidential-vms": { type: "string" },
    "stop-controller": { type: "string" },
    timeout: { type: "string" },
    kubeconfig: { type: "string" },
  },
  async run(args, io) {
    if (args.positionals.length > 0)
      throw new UsageError(`trustgate uninstall: unexpected argument ${JSON.stringify(args.positionals[0])}`);
    const modeText = text(args, "confidential-vms") ?? "release";
    if (modeText !== "release" && modeText !== "delete")
      throw new UsageError(
        `trustgate uninstall: --confidential-vms must be release or delete, not ${JSON.stringify(modeText)}`,
      );
    const mode: ConfidentialVmMode = modeText;
    let timeoutMs: number;
    try {
      timeoutMs = parseDuration(text(args, "timeout") ?? "120s");
    } catch (error) {
      throw new UsageError(`trustgate uninstall: --timeout: ${(error as Error).message}`);
    }
    const controller = controllerRef(text(args, "stop-controller"));
    const apply = args.values["yes"] === true;

    let kube: KubeUninstall;
    let steps;
    try {
      kube = new KubeUninstall(loadKubeConfig(text(args, "kubeconfig")), { timeoutMs });
      const inventory = await kube.inventory((cvm) => cvm.deleting || mode === "delete");
      steps = planUninstall(inventory, { mode, controller });
    } catch (error) {
      io.stderr(`trustgate uninstall: cannot read the cluster: ${describeError(error)}\n`);
      return EXIT_FAILURE;
    }
    if (!apply) {
      for (const step of steps) io.stdout(`would ${describeStep(step)}\n`);
      io.stdout(
        steps.length === 0
          ? "nothing to do\n"
          : `dry run: ${String(steps.length)} steps; run with --yes to take them\n`,
      );
      return EXIT_OK;
    }
    let failed = 0;
    for (const step of steps) {
      try {
        await kube.run(step);
        io.stdout(`done: ${describeStep(step)}\n`);
      } catch (error) {
        failed += 1;
        io.stderr(`failed: ${describeStep(step)}: ${describeError(error)}\n`);
        // Without a stopped controller, the rest would be undone behind our back.
        if (step.kind === "stop-controller") break;
      }
    }
    io.stdout(failed === 0 ? `uninstall: ${String(steps.length)} steps done\n` : "");
    if (failed > 0)
      io.stderr(`trustgate uninstall: ${String(failed)} of ${String(steps.length)} steps failed\n`);
    return failed === 0 ? EXIT_OK : EXIT_FAILURE;
  },
};
