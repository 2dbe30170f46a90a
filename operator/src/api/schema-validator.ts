import { Ajv } from "ajv";
import type { ValidateFunction } from "ajv";
import formats from "ajv-formats";
import { formatErrors } from "./schema-errors.ts";
import type { FieldError } from "./schema-errors.ts";
import type { JSONSchemaProps } from "./json-schema.ts";

export type { FieldError } from "./schema-errors.ts";

export type ValidationResult<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

export type Validator<T> = (obj: unknown) => ValidationResult<T>;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const sharedAjv = new Map<boolean, Ajv>();

function ajv(useDefaults: boolean): Ajv {
  const shared = sharedAjv.get(useDefaults);
  if (shared !== undefined) return shared;
  // Kubernetes patterns are RE2, which accepts escapes that unicode-mode JavaScript regexps reject.
  const instance = new Ajv({
    allErrors: true,
    strict: false,
    verbose: true,
    unicodeRegExp: false,
    useDefaults,
  });
  formats.default(instance);
  for (const name of ["int32", "int64", "float", "double"])
    instance.addFormat(name, { type: "number", validate: () => true });
  instance.addFormat("byte", BASE64);
  sharedAjv.set(useDefaults, instance);
  return instance;
}

/**
 * A validator for a CRD's openAPIV3Schema, compiled on first use. It checks types, enums, bounds,
 * patterns and formats. Ajv ignores x-kubernetes-* keys and CEL rules (x-kubernetes-validations), and unknown
 * fields are not errors here: the CRD validators of v1alpha1/validation.ts add both (cel-rules.ts,
 * structural-prune.ts).
 */
export function schemaValidator<T>(schema: JSONSchemaProps): Validator<T> {
  let compiled: ValidateFunction | undefined;
  return (obj) => {
    compiled ??= ajv(false).compile(toAjvSchema(schema));
    if (compiled(obj)) return { ok: true, value: obj as T };
    return { ok: false, errors: formatErrors(compiled.errors ?? [], obj) };
  };
}

/**
 * Like schemaValidator, but first fills in the schema's `default`s as the API server does when it decodes an
 * object, on a copy: the value returned is the defaulted object, and the input is left as it was.
 */
export function defaultingSchemaValidator<T>(schema: JSONSchemaProps): Validator<T> {
  let compiled: ValidateFunction | undefined;
  return (obj) => {
    compiled ??= ajv(true).compile(toAjvSchema(schema));
    const copy = structuredClone(obj);
    if (compiled(copy)) return { ok: true, value: copy as T };
    return { ok: false, errors: formatErrors(compiled.errors ?? [], copy) };
  };
}

/** The schema of a whole resource with apiVersion, kind and metadata required and the first two fixed. */
export function resourceSchema(schema: JSONSchemaProps, apiVersion: string, kind: string): JSONSchemaProps {
  return {
    ...schema,
    required: [...new Set(["apiVersion", "kind", "metadata", ...(schema.required ?? [])])],
    properties: {
      ...schema.properties,
      apiVersion: { type: "string", enum: [apiVersion] },
      kind: { type: "string", enum: [kind] },
    },
  };
}

/**
 * A copy ajv can check: an int-or-string node has no `type`, so it gets the `anyOf` that
 * controller-gen also writes (integer or string) when the schema does not already have one.
 */
export function toAjvSchema(schema: JSONSchemaProps): JSONSchemaProps {
  const copy: JSONSchemaProps = { ...schema };
  if (schema.properties !== undefined) {
    copy.properties = Object.fromEntries(
      Object.entries(schema.properties).map(([key, child]) => [key, toAjvSchema(child)]),
    );
  }
  if (schema.items !== undefined) copy.items = toAjvSchema(schema.items);
  if (typeof schema.additionalProperties === "object") {
    copy.additionalProperties = toAjvSchema(schema.additionalProperties);
  }
  if (schema.allOf !== undefined) copy.allOf = schema.allOf.map(toAjvSchema);
  if (schema.anyOf !== undefined) copy.anyOf = schema.anyOf.map(toAjvSchema);
  if (schema.oneOf !== undefined) copy.oneOf = schema.oneOf.map(toAjvSchema);
  if (schema.not !== undefined) copy.not = toAjvSchema(schema.not);
  if (schema["x-kubernetes-int-or-string"] === true && schema.anyOf === undefined) {
    copy.anyOf = [{ type: "integer" }, { type: "string" }];
  }
  return copy;
}
