import { expect } from "chai";
import { pino } from "pino";
import type { ConfidentialVM } from "../../operator/src/api/v1alpha1/generated/types.ts";
import type { Guest, HandleResult } from "./guest.ts";
import { GuestLoop } from "./guest-loop.ts";
import { WatchExpiredError, type CvmApi, type WatchEvent } from "./kube/cvm-client.ts";
import { aConfidentialVM } from "../../operator/test/support/builders/confidential-vm.ts";

const silent = pino({ level: "silent" });

const version = (rv: string): ConfidentialVM =>
  aConfidentialVM({ tee: "snp", policyRef: "p" }, "llm", { metadata: { resourceVersion: rv } });

/** A guest that records what it is shown; the first `failures` calls fail. */
function recordingGuest(seen: string[], failures = 0): Guest {
  let left = failures;
  return {
    handle: (cvm: ConfidentialVM): Promise<HandleResult> => {
      seen.push(cvm.metadata.resourceVersion ?? "");
      const failed = left-- > 0;
      return Promise.resolve({
        decision: { action: "answer", nonce: "n", expiresAt: new Date() },
        ...(failed ? { error: new Error("boom") } : {}),
      });
    },
  } as unknown as Guest;
}

/** An API whose watches are scripted: each call plays the next script, then waits for abort. */
function scriptedApi(scripts: ((emit: (e: WatchEvent) => void) => Promise<void>)[], gets: string[]): CvmApi {
  let call = 0;
  let rv = 0;
  return {
    get: () => {
      gets.push(`get${++rv}`);
      return Promise.resolve(version(`get${rv}`));
    },
    applyEvidence: () => Promise.reject(new Error("unused")),
    watch: async (_rv, emit, signal) => {
      const script = scripts[call++];
      if (script !== undefined) return script(emit);
      await new Promise<void>((resolve) => {
        signal.addEventListener(
          "abort",
          () => {
            resolve();
          },
          { once: true },
        );
      });
    },
    close: () => undefined,
  };
}

const until = async (check: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(check()).to.equal(true);
};

describe("GuestLoop (read, watch, hand every version to the guest)", () => {
  it("handles the object read and then each watched version; re-reads after a watch ends or expires", async () => {
    const seen: string[] = [];
    const gets: string[] = [];
    const api = scriptedApi(
      [
        (emit) => {
          emit({ type: "MODIFIED", object: version("w1") });
          emit({ type: "BOOKMARK", object: { metadata: { resourceVersion: "b" } } });
          return Promise.resolve();
        },
        () => Promise.reject(new WatchExpiredError("too old")),
      ],
      gets,
    );
    const controller = new AbortController();
    const running = new GuestLoop(recordingGuest(seen), api, silent).run(controller.signal);
    await until(() => gets.length === 3);
    controller.abort();
    await running;
    expect(gets).to.deep.equal(["get1", "get2", "get3"]);
    expect(seen.filter((rv) => rv !== "get1")).to.include.members(["w1", "get2", "get3"]);
  });

  it("retries a failed answer after the retry delay with the latest version", async () => {
    const seen: string[] = [];
    const controller = new AbortController();
    const running = new GuestLoop(recordingGuest(seen, 1), scriptedApi([], []), silent, {
      retryDelayMs: 20,
    }).run(controller.signal);
    await until(() => seen.length === 2);
    controller.abort();
    await running;
    expect(seen).to.deep.equal(["get1", "get1"]);
  });

  it("backs off after a failing read and stops promptly on abort", async () => {
    let gets = 0;
    const api: CvmApi = {
      get: () => {
        gets++;
        return Promise.reject(new Error("connection refused"));
      },
      applyEvidence: () => Promise.reject(new Error("unused")),
      watch: () => Promise.resolve(),
      close: () => undefined,
    };
    const controller = new AbortController();
    const started = Date.now();
    const running = new GuestLoop(recordingGuest([]), api, silent, { backoffMs: 60_000 }).run(
      controller.signal,
    );
    await until(() => gets === 1);
    controller.abort();
    await running;
    expect(Date.now() - started).to.be.below(5_000);
    expect(gets).to.equal(1);
  });
});
