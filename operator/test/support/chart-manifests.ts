// What the chart-*.test.ts suites look up in rendered objects and chart files: YAML documents, objects by kind and
// name, pod specs, containers and their flags.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { KubernetesObject, V1Container, V1PodSpec } from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { CHART } from "./chart.ts";

/** A rendered object: kind, apiVersion and metadata.name always present. */
export interface Manifest extends KubernetesObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

/** The non-empty documents of a multi-document YAML text. */
export function manifests(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((doc) => doc.toJS() as Manifest | null)
    .filter((obj): obj is Manifest => obj !== null);
}

/** The object of `kind` named `name`; throws when there is none. */
export function find(objects: Manifest[], kind: string, name: string): Manifest {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (found === undefined) throw new Error(`no ${kind} ${name} rendered`);
  return found;
}

/** The pod template's spec of a Deployment or DaemonSet. */
export function podSpec(workload: Manifest): V1PodSpec {
  return (workload as unknown as { spec: { template: { spec: V1PodSpec } } }).spec.template.spec;
}

/** The single container of a workload; throws when it has more or none. */
export function onlyContainer(workload: Manifest): V1Container {
  const [container, ...others] = podSpec(workload).containers;
  if (container === undefined || others.length > 0) throw new Error("expected exactly one container");
  return container;
}

/** The objects of a file in the chart (e.g. files/rbac/agent.yaml). */
export async function fileObjects(relativePath: string): Promise<Manifest[]> {
  return manifests(await readFile(join(CHART, relativePath), "utf8"));
}

/** "--name=value" flags of a container's args as a map. */
export function flags(args: string[]): Map<string, string | true> {
  const result = new Map<string, string | true>();
  for (const arg of args.filter((a) => a.startsWith("--"))) {
    const eq = arg.indexOf("=");
    if (eq < 0) result.set(arg.slice(2), true);
    else result.set(arg.slice(2, eq), arg.slice(eq + 1));
  }
  return result;
}

/** `args` with the value of every "--name=..." flag named in `values` replaced. */
export function withFlags(args: string[] | undefined, values: Record<string, string>): string[] {
  return (args ?? []).map((arg) => {
    const eq = arg.indexOf("=");
    const value = arg.startsWith("--") && eq > 0 ? values[arg.slice(2, eq)] : undefined;
    return value === undefined ? arg : `${arg.slice(0, eq + 1)}${value}`;
  });
}
