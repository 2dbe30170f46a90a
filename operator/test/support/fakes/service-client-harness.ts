/**
 * The attestation service client against a local HTTPS server, with its waits recorded and a clock that the injected
 * sleep moves (as a real one would have moved): retries and rate limits are tested without waiting for them.
 */
import { expect } from "chai";
import type { ServerResponse } from "node:http";
import {
  AttestationServiceError,
  createAttestationServiceClient,
  type AttestationServiceClient,
  type AttestationServiceClientOptions,
  type ServiceRequestEvent,
} from "../../../src/attestation/collateral/attestation-service-client.ts";
import { startLocalHttps, type LocalHttps, type SeenRequest } from "./local-https.ts";

export interface ServiceClientHarness {
  server: LocalHttps;
  /** Every wait the client asked for, in ms. */
  sleeps: number[];
  events: ServiceRequestEvent[];
  clock: number;
  /** A client over the server's transport, random fixed at 0.5, recording waits and events. */
  client(options?: AttestationServiceClientOptions): AttestationServiceClient;
  /** Answers with `answers` in turn, the last one for every further request. */
  answerInTurn(...answers: ((res: ServerResponse, seen: SeenRequest) => void)[]): void;
  /** Forgets requests, waits and events; the clock back to its start. */
  reset(): void;
}

export async function startServiceClientHarness(): Promise<ServiceClientHarness> {
  const server = await startLocalHttps();
  const harness: ServiceClientHarness = {
    server,
    sleeps: [],
    events: [],
    clock: 1_000_000,
    client: (options = {}) =>
      createAttestationServiceClient({
        transport: server.transport,
        random: () => 0.5,
        now: () => harness.clock,
        sleep: (ms, signal) => {
          harness.sleeps.push(ms);
          signal.throwIfAborted();
          harness.clock += ms;
          return Promise.resolve();
        },
        onRequest: (event) => harness.events.push(event),
        ...options,
      }),
    answerInTurn(...answers) {
      let next = 0;
      server.handle((seen, res) => {
        answers[Math.min(next++, answers.length - 1)]?.(res, seen);
      });
    },
    reset() {
      harness.sleeps.length = 0;
      harness.events.length = 0;
      harness.clock = 1_000_000;
      server.seen.length = 0;
    },
  };
  return harness;
}

/** The AttestationServiceError (CollateralUnavailable) `promise` rejects with. */
export async function serviceFailure(promise: Promise<unknown>): Promise<AttestationServiceError> {
  const error: unknown = await promise.then(
    () => expect.fail("no error"),
    (reason: unknown) => reason,
  );
  expect(error).to.be.instanceOf(AttestationServiceError);
  expect((error as AttestationServiceError).code).to.equal("CollateralUnavailable");
  return error as AttestationServiceError;
}
