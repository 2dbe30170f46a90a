/** One step into a JSON value: an object key or an array index. */
export type FieldPathSegment = string | number;

const PLAIN_KEY = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/**
 * A field path as Kubernetes prints it: `spec.secrets[0].name`. Keys that would read ambiguously
 * are quoted: `metadata.labels["app.kubernetes.io/name"]`. The empty path is `<root>`.
 */
export function formatFieldPath(segments: readonly FieldPathSegment[]): string {
  if (segments.length === 0) return "<root>";
  return segments
    .map((segment, index) => {
      if (typeof segment === "number") return `[${String(segment)}]`;
      if (!PLAIN_KEY.test(segment)) return `[${JSON.stringify(segment)}]`;
      return index === 0 ? segment : `.${segment}`;
    })
    .join("");
}

/**
 * The segments of a JSON pointer (ajv's instancePath) into `data`. A pointer cannot tell an array
 * index from a numeric object key, so the data decides.
 */
export function pointerSegments(pointer: string, data: unknown): FieldPathSegment[] {
  if (pointer === "") return [];
  const segments: FieldPathSegment[] = [];
  let current: unknown = data;
  for (const raw of pointer.slice(1).split("/")) {
    const key = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    if (Array.isArray(current) && /^(0|[1-9][0-9]*)$/.test(key)) {
      const index = Number(key);
      segments.push(index);
      current = current[index];
    } else {
      segments.push(key);
      current =
        current !== null && typeof current === "object"
          ? (current as Record<string, unknown>)[key]
          : undefined;
    }
  }
  return segments;
}
