/** The innermost message of a fetch failure (DNS, TLS, timeout), not fetch's bare "fetch failed". */
export function causeOf(error: unknown): string {
  let current: unknown = error;
  while (current instanceof Error && current.cause instanceof Error) current = current.cause;
  return current instanceof Error ? current.message : String(current);
}
