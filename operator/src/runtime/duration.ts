const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION = /^(?:\d+(?:\.\d+)?(?:ns|us|ms|s|m|h))+$/;

/** Parses a Go-style duration ("90s", "5m", "1h30m") into milliseconds; throws on anything else. */
export function parseDuration(text: string): number {
  if (!DURATION.test(text)) throw new Error(`invalid duration "${text}" (use e.g. 90s, 5m, 1h30m)`);
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)/g)) {
    total += Number(amount) * (UNIT_MS[unit ?? ""] ?? 0);
  }
  return total;
}
