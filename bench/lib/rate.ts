/**
 * Operations per second of `run` over `durationMs` (after a short warm-up), calling it in batches of `batch`
 * so the clock is read rarely. Shared by the verification benchmarks.
 */
export async function rate(
  run: () => unknown,
  durationMs: number,
  batch = 20,
): Promise<{ perSecond: number; count: number }> {
  const warmUntil = performance.now() + Math.min(500, durationMs / 4);
  while (performance.now() < warmUntil) await run();
  let count = 0;
  const start = performance.now();
  const end = start + durationMs;
  while (performance.now() < end) {
    for (let i = 0; i < batch; i++) await run();
    count += batch;
  }
  return { perSecond: (count * 1000) / (performance.now() - start), count };
}
