import { expect } from "chai";
import { Readable } from "node:stream";
import { BodyTooLargeError, readBody } from "./read-body.ts";

async function rejection(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => expect.fail("resolved"),
    (error: unknown) => error as Error,
  );
}

describe("readBody", () => {
  it("reads node streams, web streams and strings to their end", async () => {
    expect(
      (await readBody(Readable.from([Buffer.from("ab"), Buffer.from("cd")]), { maxBytes: 4 })).toString(),
    ).to.equal("abcd");
    const web = new Response("hello web").body;
    if (web === null) throw new Error("no body");
    expect((await readBody(web, { maxBytes: 100 })).toString()).to.equal("hello web");
    expect((await readBody(Readable.from(["é", "x"]), { maxBytes: 3 })).toString()).to.equal("éx");
    expect(await readBody(Readable.from([]), { maxBytes: 0 })).to.have.length(0);
  });

  it("stops at the first byte past the limit and destroys the stream", async () => {
    let produced = 0;
    const endless = new Readable({
      read() {
        produced++;
        this.push(Buffer.alloc(1024));
      },
    });
    const error = await rejection(readBody(endless, { maxBytes: 4000 }));
    expect(error).to.be.instanceOf(BodyTooLargeError);
    expect(error.message).to.equal("the body is larger than 4000 bytes");
    await new Promise((resolve) => setImmediate(resolve));
    expect(endless.destroyed, "the transfer is stopped").to.equal(true);
    expect(produced).to.be.below(100);
  });

  it("cancels a web stream that is too large", async () => {
    let cancelled = false;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(new Uint8Array(512));
      },
      cancel() {
        cancelled = true;
      },
    });
    expect(await rejection(readBody(stream, { maxBytes: 1000 }))).to.be.instanceOf(BodyTooLargeError);
    await new Promise((resolve) => setImmediate(resolve));
    expect(cancelled).to.equal(true);
  });

  it("keeps the first bytes when truncating (an error body's snippet)", async () => {
    const body = await readBody(Readable.from([Buffer.from("abcdef"), Buffer.from("ghij")]), {
      maxBytes: 8,
      truncate: true,
    });
    expect(body.toString()).to.equal("abcdefgh");
  });

  it("stops waiting when the signal aborts, with its reason", async () => {
    const silent = new Readable({ read: () => undefined });
    const controller = new AbortController();
    setTimeout(() => {
      controller.abort(new Error("deadline"));
    }, 10);
    expect((await rejection(readBody(silent, { maxBytes: 10, signal: controller.signal }))).message).to.equal(
      "deadline",
    );
    const aborted = AbortSignal.abort(new Error("already"));
    expect(
      (await rejection(readBody(Readable.from(["x"]), { maxBytes: 10, signal: aborted }))).message,
    ).to.equal("already");
  });

  it("passes on the stream's own error", async () => {
    const failing = new Readable({
      read() {
        this.destroy(new Error("connection reset"));
      },
    });
    expect((await rejection(readBody(failing, { maxBytes: 10 }))).message).to.equal("connection reset");
  });

  it("refuses a limit that is not a byte count", async () => {
    for (const maxBytes of [-1, 1.5, Number.NaN])
      expect((await rejection(readBody(Readable.from([]), { maxBytes }))).message).to.match(
        /maxBytes must be a non-negative integer/,
      );
  });
});
