/**
 * The one body reader of the codebase: an HTTP message body (node:http IncomingMessage, a fetch Response's
 * ReadableStream, any async iterable of bytes) read to its end, never past a byte limit. Stopping early ends the
 * iteration, which destroys a node stream or cancels a web stream: the rest of an oversized body is not transferred.
 */

/** The body went past `maxBytes`. */
export class BodyTooLargeError extends Error {
  readonly maxBytes: number;
  constructor(maxBytes: number) {
    super(`the body is larger than ${maxBytes} bytes`);
    this.name = "BodyTooLargeError";
    this.maxBytes = maxBytes;
  }
}

export interface ReadBodyLimits {
  maxBytes: number;
  /** Keep the first `maxBytes` and stop there instead of failing (for a snippet of an error body). */
  truncate?: boolean;
  /** Stops waiting for the body with the signal's reason (the stream itself is the caller's to close). */
  signal?: AbortSignal;
}

function bytesOf(chunk: Uint8Array | string): Buffer {
  return typeof chunk === "string"
    ? Buffer.from(chunk, "utf8")
    : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

function abortedBy(signal: AbortSignal): { promise: Promise<never>; dispose: () => void } {
  let onAbort = (): void => undefined;
  const promise = new Promise<never>((_resolve, reject) => {
    onAbort = () => {
      reject(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason)));
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  // The race below observes the rejection; this keeps an unobserved one from surfacing after dispose.
  promise.catch(() => undefined);
  return {
    promise,
    dispose: () => {
      signal.removeEventListener("abort", onAbort);
    },
  };
}

/** Reads `body` to its end; throws BodyTooLargeError at the first byte past `maxBytes` (unless `truncate`). */
export async function readBody(
  body: AsyncIterable<Uint8Array | string>,
  limits: ReadBodyLimits,
): Promise<Buffer> {
  if (!Number.isSafeInteger(limits.maxBytes) || limits.maxBytes < 0)
    throw new RangeError(`readBody: maxBytes must be a non-negative integer, got ${limits.maxBytes}`);
  const iterator = body[Symbol.asyncIterator]();
  const aborted = limits.signal === undefined ? undefined : abortedBy(limits.signal);
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  try {
    for (;;) {
      const next =
        aborted === undefined
          ? await iterator.next()
          : await Promise.race([iterator.next(), aborted.promise]);
      if (next.done === true) {
        finished = true;
        return Buffer.concat(chunks, size);
      }
      const chunk = bytesOf(next.value);
      if (size + chunk.length > limits.maxBytes) {
        if (limits.truncate !== true) throw new BodyTooLargeError(limits.maxBytes);
        chunks.push(chunk.subarray(0, limits.maxBytes - size));
        return Buffer.concat(chunks, limits.maxBytes);
      }
      size += chunk.length;
      chunks.push(chunk);
    }
  } finally {
    aborted?.dispose();
    // Ending the iteration early stops the transfer; an error from doing so adds nothing to the reason we stopped.
    if (!finished) void Promise.resolve(iterator.return?.()).catch(() => undefined);
  }
}
