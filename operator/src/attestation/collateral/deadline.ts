import { EvidenceError, type CollateralSource } from "../types.ts";

/**
 * One appraisal's view of a source: every lookup fails once `deadlineMs` has passed since the view was made, so a
 * slow service delays an appraisal by at most that. The fetch itself goes on and fills the cache for the next one.
 */
export function withDeadline(
  source: CollateralSource,
  deadlineMs: number,
  now: () => number = Date.now,
): CollateralSource {
  const deadline = now() + deadlineMs;
  return {
    get(kind, key) {
      const left = deadline - now();
      const expired = (): EvidenceError =>
        new EvidenceError(
          "CollateralUnavailable",
          `${kind} ${key}: no answer within the appraisal's collateral deadline of ${String(deadlineMs / 1000)}s`,
        );
      if (left <= 0) return Promise.reject(expired());
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(expired());
        }, left);
        source.get(kind, key).then(
          (value) => {
            clearTimeout(timer);
            resolve(value);
          },
          (error: unknown) => {
            clearTimeout(timer);
            reject(error instanceof Error ? error : new Error(String(error)));
          },
        );
      });
    },
  };
}
