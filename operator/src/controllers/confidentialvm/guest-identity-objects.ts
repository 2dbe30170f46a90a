import { isDeepStrictEqual } from "node:util";
import type { CoreV1Api, RbacAuthorizationV1Api, V1OwnerReference } from "@kubernetes/client-node";
import { stringify } from "yaml";
import type { ConfidentialVM } from "../../api/v1alpha1/generated/types.ts";
import { GROUP, CONFIDENTIAL_VM } from "../../api/v1alpha1/generated/types.ts";
import { LABEL_CONFIDENTIAL_VM } from "../../api/v1alpha1/labels.ts";
import { isConflict, isNotFound } from "../../kube/api-error.ts";
import { guestConfigSecretName } from "../../kubevirt/virtual-machine.ts";

export const GUEST_TOKEN_LIFETIME_S = 24 * 3600;
/** Renew the token in the cloud-init Secret once less than this share of its lifetime is left. */
const RENEW_WHEN_LEFT = 0.25;
export const ANNOTATION_TOKEN_EXPIRES = "trustgate.io/token-expires-at";

export interface GuestEndpoint {
  /** The API server URL as the guest reaches it. */
  apiServer: string;
  /** PEM of the CA the guest trusts for it. */
  caPem: string;
}

export function guestAccountName(cvmName: string): string {
  return `${cvmName}-guest`;
}

function owner(cvm: ConfidentialVM): V1OwnerReference {
  return {
    apiVersion: cvm.apiVersion,
    kind: cvm.kind,
    name: cvm.metadata.name ?? "",
    uid: cvm.metadata.uid ?? "",
    controller: true,
    blockOwnerDeletion: true,
  };
}

/**
 * Least privilege for the guest: read and watch its own ConfidentialVM and write only its status. Nothing else: the
 * token is readable by the host (cloud-init), so it must not mint tokens (the controller renews it) or read Secrets.
 */
export function guestRoleRules(
  cvmName: string,
): { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames: string[] }[] {
  return [
    {
      apiGroups: [GROUP],
      resources: [CONFIDENTIAL_VM.plural],
      verbs: ["get", "watch", "list"],
      resourceNames: [cvmName],
    },
    {
      apiGroups: [GROUP],
      resources: [`${CONFIDENTIAL_VM.plural}/status`],
      verbs: ["get", "patch"],
      resourceNames: [cvmName],
    },
  ];
}

/** The cloud-init user data: the guest sidecar's configuration and its token, as files in the CVM. */
export function guestCloudConfig(cvm: ConfidentialVM, endpoint: GuestEndpoint, token: string): string {
  const config = {
    apiServer: endpoint.apiServer,
    caData: Buffer.from(endpoint.caPem).toString("base64"),
    namespace: cvm.metadata.namespace ?? "",
    name: cvm.metadata.name ?? "",
    tokenFile: "/var/run/trustgate/token",
  };
  return `#cloud-config\n${stringify({
    write_files: [
      { path: "/etc/trustgate/guest.json", permissions: "0600", content: JSON.stringify(config, null, 2) },
      { path: "/var/run/trustgate/token", permissions: "0600", content: token },
    ],
    runcmd: [["systemctl", "enable", "--now", "trustgate-guest.service"]],
  })}`;
}

/** Creates an object; undefined when it exists already. */
/** Creates the guest's Role, or, when it exists with other rules (an older operator's), replaces its rules. */
async function ensureGuestRole(
  rbac: RbacAuthorizationV1Api,
  namespace: string,
  body: { metadata: { name: string }; rules: ReturnType<typeof guestRoleRules> },
): Promise<void> {
  if ((await createIfMissing(() => rbac.createNamespacedRole({ namespace, body }))) !== undefined) return;
  const existing = await rbac.readNamespacedRole({ name: body.metadata.name, namespace });
  if (isDeepStrictEqual(normalizedRules(existing.rules ?? []), normalizedRules(body.rules))) return;
  await rbac.replaceNamespacedRole({
    name: body.metadata.name,
    namespace,
    body: { metadata: existing.metadata, rules: body.rules },
  });
}

function normalizedRules(rules: readonly object[]): object[] {
  return rules.map((rule) => JSON.parse(JSON.stringify(rule)) as object);
}

async function createIfMissing<T>(create: () => Promise<T>): Promise<T | undefined> {
  try {
    return await create();
  } catch (error) {
    if (!isConflict(error)) throw error;
    return undefined;
  }
}

/**
 * Ensures the CVM's guest identity: a ServiceAccount with a resourceNames-restricted Role, a token bound
 * to a Secret the CVM owns (deleting the CVM invalidates it), and the cloud-init Secret the VM boots
 * with. Renews the token before it lapses. Returns when to look again.
 */
export async function ensureGuestIdentity(
  cvm: ConfidentialVM,
  api: { core: CoreV1Api; rbac: RbacAuthorizationV1Api },
  endpoint: GuestEndpoint,
  now: Date,
): Promise<{ renewAfterMs: number; wrote: boolean }> {
  const namespace = cvm.metadata.namespace ?? "";
  const name = cvm.metadata.name ?? "";
  const account = guestAccountName(name);
  const labels = { [LABEL_CONFIDENTIAL_VM]: name };
  const meta = (n: string) => ({ name: n, namespace, labels, ownerReferences: [owner(cvm)] });
  const configName = guestConfigSecretName(name);

  let expiresAt = 0;
  let configExists = false;
  try {
    const existing = await api.core.readNamespacedSecret({ name: configName, namespace });
    configExists = true;
    expiresAt = Date.parse(existing.metadata?.annotations?.[ANNOTATION_TOKEN_EXPIRES] ?? "");
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  const renewAt = expiresAt - GUEST_TOKEN_LIFETIME_S * 1000 * RENEW_WHEN_LEFT;
  if (Number.isFinite(renewAt) && renewAt > now.getTime())
    return { renewAfterMs: renewAt - now.getTime(), wrote: false };

  const anchorName = `${name}-guest-binding`;
  // Three round trips, not six: what does not depend on another object is created together. The RoleBinding
  // waits for its Role (without the bind verb, the API server checks the Role's rules against the controller's).
  const [, , created] = await Promise.all([
    createIfMissing(() =>
      api.core.createNamespacedServiceAccount({
        namespace,
        body: { metadata: meta(account), automountServiceAccountToken: false },
      }),
    ),
    ensureGuestRole(api.rbac, namespace, { metadata: meta(account), rules: guestRoleRules(name) }),
    createIfMissing(() =>
      api.core.createNamespacedSecret({ namespace, body: { metadata: meta(anchorName), type: "Opaque" } }),
    ),
  ]);
  const anchor = created ?? (await api.core.readNamespacedSecret({ name: anchorName, namespace }));
  const [, issued] = await Promise.all([
    createIfMissing(() =>
      api.rbac.createNamespacedRoleBinding({
        namespace,
        body: {
          metadata: meta(account),
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: account },
          subjects: [{ kind: "ServiceAccount", name: account, namespace }],
        },
      }),
    ),
    api.core.createNamespacedServiceAccountToken({
      name: account,
      namespace,
      body: {
        spec: {
          // The API server's own audience, not "trustgate": the guest presents this token only to the API server,
          // and making an API server accept "trustgate" would let every token minted for trustgate reach it.
          audiences: [],
          expirationSeconds: GUEST_TOKEN_LIFETIME_S,
          boundObjectRef: {
            apiVersion: "v1",
            kind: "Secret",
            name: anchorName,
            uid: anchor.metadata?.uid ?? "",
          },
        },
      },
    }),
  ]);
  const token = issued.status?.token ?? "";
  const tokenExpires = new Date(
    issued.status?.expirationTimestamp ?? now.getTime() + GUEST_TOKEN_LIFETIME_S * 1000,
  );
  const body = {
    metadata: {
      ...meta(configName),
      annotations: { [ANNOTATION_TOKEN_EXPIRES]: tokenExpires.toISOString() },
    },
    type: "Opaque",
    stringData: { userdata: guestCloudConfig(cvm, endpoint, token) },
  };
  // Created or replaced as just read, so a first launch costs one write, not a failed replace and a create.
  if (configExists) await api.core.replaceNamespacedSecret({ name: configName, namespace, body });
  else await api.core.createNamespacedSecret({ namespace, body });
  return {
    renewAfterMs: tokenExpires.getTime() - now.getTime() - GUEST_TOKEN_LIFETIME_S * 1000 * RENEW_WHEN_LEFT,
    wrote: true,
  };
}
