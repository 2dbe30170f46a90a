import { formatFieldPath } from "./field-path.ts";
import type { FieldPathSegment } from "./field-path.ts";
import type { JSONSchemaProps } from "./json-schema.ts";

// ObjectMeta is not described by a CRD schema: the API server decodes it into its Go type, dropping the rest.
const OBJECT_META_FIELDS = new Set([
  "name",
  "generateName",
  "namespace",
  "selfLink",
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
  "labels",
  "annotations",
  "ownerReferences",
  "finalizers",
  "managedFields",
]);

/**
 * Paths of the fields in `obj` (a whole resource) that the API server would silently drop when
 * storing it under the structural `schema`: keys an object schema does not declare, unless it
 * allows them (additionalProperties, x-kubernetes-preserve-unknown-fields). With
 * `fieldValidation=Strict` the server rejects them instead. Typos and too-new fields end up here.
 */
export function pruneUnknownFields(schema: JSONSchemaProps, obj: unknown): string[] {
  const found: string[] = [];
  visit(schema, obj, [], true, found);
  return found;
}

function visit(
  schema: JSONSchemaProps,
  value: unknown,
  path: FieldPathSegment[],
  isResource: boolean,
  found: string[],
): void {
  if (Array.isArray(value)) {
    const items = schema.items;
    if (items === undefined) return;
    value.forEach((item: unknown, index) => {
      visit(items, item, [...path, index], items["x-kubernetes-embedded-resource"] === true, found);
    });
    return;
  }
  if (value === null || typeof value !== "object" || !describesObject(schema)) return;

  for (const [key, child] of Object.entries(value)) {
    const childPath = [...path, key];
    if (isResource && key === "metadata") {
      visitObjectMeta(child, childPath, found);
      continue;
    }
    const declared = schema.properties?.[key];
    if (declared !== undefined) {
      visit(declared, child, childPath, declared["x-kubernetes-embedded-resource"] === true, found);
    } else if (typeof schema.additionalProperties === "object") {
      const values = schema.additionalProperties;
      visit(values, child, childPath, values["x-kubernetes-embedded-resource"] === true, found);
    } else if (isResource && (key === "apiVersion" || key === "kind")) {
      continue;
    } else if (
      schema.additionalProperties !== true &&
      schema["x-kubernetes-preserve-unknown-fields"] !== true
    ) {
      found.push(formatFieldPath(childPath));
    }
  }
}

function describesObject(schema: JSONSchemaProps): boolean {
  return (
    schema.type === "object" || schema.properties !== undefined || schema.additionalProperties !== undefined
  );
}

function visitObjectMeta(metadata: unknown, path: FieldPathSegment[], found: string[]): void {
  if (metadata === null || typeof metadata !== "object" || Array.isArray(metadata)) return;
  for (const key of Object.keys(metadata)) {
    if (!OBJECT_META_FIELDS.has(key)) found.push(formatFieldPath([...path, key]));
  }
}
