import { request } from "node:https";
import { homedir } from "node:os";
import { type Command, EXIT_FAILURE, EXIT_OK, type ParsedArgs, UsageError } from "../cli/command.ts";
import { JWKS_CONFIGMAP } from "../controllers/signing-key-store.ts";
import { crdsFinding, type Finding, jwksFinding, leaseFinding, webhookCa } from "../doctor/checks.ts";
import { loadKubeConnection } from "../kube/load-connection.ts";
import { KubeApiError } from "../kube/rest-api-error.ts";
import { KubeRestClient } from "../kube/rest-client.ts";

const USAGE = `Usage: trustgate doctor --namespace <ns> [--controller-lease <name>] [--jwks-configmap <name>]
                       [--webhook-configuration <name> --webhook-service <name> [--webhook-address <host:port>]]
                       [--kubeconfig <file>]

Read-only checks that an installed trustgate works (the chart's helm test runs them):
  crds              the API server serves trustgate.io/v1alpha1 attestationpolicies, confidentialhosts, confidentialvms
  controller-lease  a controller holds the leader-election Lease <namespace>/<name> and renews it (--controller-lease)
  jwks              the ConfigMap <namespace>/<name> holds the controller's public signing keys, and no private one
  webhook           the webhook Service answers TLS with a certificate for <service>.<namespace>.svc that the caBundle
                    of the ValidatingWebhookConfiguration verifies, and serves the JWKS (--webhook-configuration)
--webhook-address connects elsewhere than <service>.<namespace>.svc:443 (the name checked stays the Service's).
Prints one line per check. Exit status: 0 every check passed, 1 a check failed, 2 usage error.`;

function text(args: ParsedArgs, name: string): string | undefined {
  const value = args.values[name];
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** GET `path`; undefined when the object (or API) does not exist. Other errors name what failed. */
async function getOptional(client: KubeRestClient, path: string): Promise<unknown> {
  try {
    return await client.get(path);
  } catch (error) {
    if (error instanceof KubeApiError && error.code === 404) return undefined;
    throw error;
  }
}

/** GET https://<address>/.well-known/jwks.json verifying the server as `serverName` against `ca` only. */
function probeWebhook(address: string, serverName: string, ca: string): Promise<number> {
  const url = new URL(`https://${address}/.well-known/jwks.json`);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port || 443,
        path: url.pathname,
        servername: serverName,
        ca,
        timeout: 10_000,
        agent: false,
      },
      (response) => {
        response.resume();
        response.on("end", () => {
          resolve(response.statusCode ?? 0);
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out after 10 s")));
    req.on("error", reject);
    req.end();
  });
}

function describe(error: unknown): string {
  if (error instanceof KubeApiError) return `${String(error.code)} ${error.reason}: ${error.message}`;
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const detail = cause?.code ?? cause?.message;
  return `${(error as Error).message}${detail === undefined ? "" : ` (${detail})`}`;
}

export const doctorCommand: Command = {
  name: "doctor",
  summary: "Check an installed trustgate: CRDs served, controller leading, webhook TLS, JWKS (read-only)",
  usage: USAGE,
  options: {
    namespace: { type: "string" },
    "controller-lease": { type: "string" },
    "jwks-configmap": { type: "string" },
    "webhook-configuration": { type: "string" },
    "webhook-service": { type: "string" },
    "webhook-address": { type: "string" },
    kubeconfig: { type: "string" },
  },
  async run(args, io) {
    if (args.positionals.length > 0)
      throw new UsageError(`trustgate doctor: unexpected argument ${JSON.stringify(args.positionals[0])}`);
    const namespace = text(args, "namespace");
    if (namespace === undefined) throw new UsageError("trustgate doctor: --namespace is required");
    const configuration = text(args, "webhook-configuration");
    const service = text(args, "webhook-service");
    if ((configuration === undefined) !== (service === undefined))
      throw new UsageError("trustgate doctor: give --webhook-configuration and --webhook-service together");

    let client: KubeRestClient;
    try {
      client = new KubeRestClient(
        await loadKubeConnection({ kubeconfig: text(args, "kubeconfig"), env: process.env, home: homedir() }),
        { timeoutMs: 15_000 },
      );
    } catch (error) {
      io.stderr(`trustgate doctor: ${describe(error)}\n`);
      return EXIT_FAILURE;
    }
    const findings: Finding[] = [];
    const attempt = async (check: string, run: () => Promise<Finding>): Promise<void> => {
      try {
        findings.push(await run());
      } catch (error) {
        findings.push({ check, ok: false, message: describe(error) });
      }
    };
    await attempt("crds", async () => crdsFinding(await getOptional(client, "/apis/trustgate.io/v1alpha1")));
    const lease = text(args, "controller-lease");
    if (lease !== undefined) {
      await attempt("controller-lease", async () =>
        leaseFinding(
          `${namespace}/${lease}`,
          await getOptional(client, `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/${lease}`),
          new Date(),
        ),
      );
    }
    const jwks = text(args, "jwks-configmap") ?? JWKS_CONFIGMAP;
    await attempt("jwks", async () =>
      jwksFinding(
        `${namespace}/${jwks}`,
        await getOptional(client, `/api/v1/namespaces/${namespace}/configmaps/${jwks}`),
      ),
    );
    if (configuration !== undefined && service !== undefined) {
      await attempt("webhook", async () => {
        const found = webhookCa(
          configuration,
          await getOptional(
            client,
            `/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/${configuration}`,
          ),
          { namespace, name: service },
        );
        if ("finding" in found) return found.finding;
        const serverName = `${service}.${namespace}.svc`;
        const address = text(args, "webhook-address") ?? `${serverName}:443`;
        try {
          const status = await probeWebhook(address, serverName, found.ca);
          if (status !== 200)
            return {
              check: "webhook",
              ok: false,
              message: `${address} answered HTTP ${String(status)} for the JWKS`,
            };
        } catch (error) {
          return {
            check: "webhook",
            ok: false,
            message: `${address} (as ${serverName}) with the configuration's caBundle: ${describe(error)}`,
          };
        }
        return {
          check: "webhook",
          ok: true,
          message: `${address} answers TLS as ${serverName}, verified by the caBundle of ${configuration}`,
        };
      });
    }
    client.close();
    for (const f of findings) io.stdout(`${f.ok ? "ok  " : "FAIL"} ${f.check}: ${f.message}\n`);
    const failed = findings.filter((f) => !f.ok).length;
    if (failed > 0)
      io.stderr(`trustgate doctor: ${String(failed)} of ${String(findings.length)} checks failed\n`);
    return failed === 0 ? EXIT_OK : EXIT_FAILURE;
  },
};
