// The simulated guests of the attestation benchmarks: one `Guest` (guest/src/guest.ts, the code `trustgate guest`
// runs) per CVM in this process, reading its token from the CVM's cloud-init Secret and applying status.evidence
// with it (server-side apply, field manager trustgate-guest, under the guest admission policy). Their bundles carry
// no RIMs (optional in a bundle): 1,000 bundles with 16 RIMs each would not fit the local etcd's 256 MB quota.
import { join } from "node:path";
import { pino } from "pino";
import { guestConnection, loadGuestConfig } from "../../guest/src/config.ts";
import type { EvidenceProviders } from "../../guest/src/evidence.ts";
import { Guest } from "../../guest/src/guest.ts";
import { CvmClient } from "../../guest/src/kube/cvm-client.ts";
import { createProviders } from "../../guest/src/providers/select.ts";
import {
  preissueVceks,
  preproduceOcspResponses,
} from "../../operator/src/attestation/simulated/preproduced-collateral.ts";
import { SIMULATED_SNP_TCB } from "../../operator/src/attestation/simulated/simulated-snp.ts";
import type { ConfidentialVM } from "../../operator/src/api/v1alpha1/generated/types.ts";
import { guestFilesFromCloudInit } from "../../operator/test/support/guest-from-cloud-init.ts";
import { type BenchCluster, gpuAddresses, NS } from "../attest-harness.ts";

/** The simulated TEE and GPUs, with RIMs left out of each GPU's entry. */
export async function providersWithoutRims(simPki: string): Promise<EvidenceProviders> {
  const providers = await createProviders({ tee: "simulated", gpu: "simulated", tsmRoot: "", simPki });
  const gpus = providers.gpus;
  if (gpus === undefined) throw new Error("no simulated GPUs");
  return {
    tee: providers.tee,
    gpus: {
      name: gpus.name,
      ...(gpus.systemState === undefined ? {} : { systemState: gpus.systemState.bind(gpus) }),
      collect: async (nonce, hardware) =>
        (await gpus.collect(nonce, hardware)).map((gpu) => {
          const entry = { ...gpu };
          delete entry.rims;
          return entry;
        }),
    },
  };
}

/**
 * Creates the simulated devices' identities (a key and certificate per chip and per GPU) before the clock starts, as
 * real CPUs and GPUs come with theirs: each host's chip, and the GPUs as the guests name them until their host
 * reports which ones the VM got (guest/src/hardware.ts: `<namespace>/<cvm>/gpu<i>`). Then the services' answers for
 * them, made ahead as the real services make theirs: NVIDIA's OCSP responses for the device certificates and AMD's
 * VCEKs (the controller still fetches, parses and verifies each one). Call it before the controller starts: it reads
 * the pre-produced answers' directory when it starts.
 */
export async function warmHostIdentities(
  simPki: string,
  providers: EvidenceProviders,
  hosts: readonly string[],
  cvmNames: readonly string[],
): Promise<{ ocspResponses: number; vceks: number }> {
  const deviceChains = new Set<string>();
  for (const [i, host] of hosts.entries()) {
    await providers.tee.collect(new Uint8Array(64), { machine: host, gpus: [] });
    const gpus = gpuAddresses().map((_, g) => `${NS}/${cvmNames[i] ?? ""}/gpu${String(g)}`);
    for (const gpu of (await providers.gpus?.collect(new Uint8Array(32), { machine: host, gpus })) ?? [])
      deviceChains.add(gpu.certChain);
  }
  return {
    ocspResponses: await preproduceOcspResponses(simPki, deviceChains),
    vceks: await preissueVceks(simPki, hosts, SIMULATED_SNP_TCB),
  };
}

export interface SimulatedGuestsOptions {
  /** Challenges answered at once. */
  concurrency: number;
  /**
   * After a failed answer (the API server down, say), look at the CVM again this much later, as a real guest's
   * watch loop would; absent: a failure is final for that challenge (the CVM then waits for its next challenge).
   */
  retryAfterMs?: number;
  /** Failed attempts at one nonce before a guest gives up on it (Guest's default 5). */
  maxAttempts?: number;
}

/** Answers each CVM's open challenge with that CVM's own guest; feed it every CVM version a watch sees. */
export class SimulatedGuests {
  /** Failed answers (each retried when retryAfterMs is set). */
  failures = 0;
  /** The first few failures' messages, for the report. */
  readonly failureMessages: string[] = [];
  readonly #cluster: BenchCluster;
  readonly #providers: EvidenceProviders;
  readonly #options: SimulatedGuestsOptions;
  readonly #guests = new Map<string, Promise<Guest>>();
  readonly #clients: CvmClient[] = [];
  readonly #pending = new Map<string, ConfidentialVM>();
  readonly #answered = new Set<string>();
  readonly #retryTimers = new Set<NodeJS.Timeout>();
  #active = 0;
  #closed = false;

  constructor(cluster: BenchCluster, providers: EvidenceProviders, options: SimulatedGuestsOptions) {
    this.#cluster = cluster;
    this.#providers = providers;
    this.#options = options;
  }

  /** A new version of a CVM: its guest answers its challenge unless that nonce was answered already. */
  observe(cvm: ConfidentialVM): void {
    const name = cvm.metadata.name ?? "";
    const nonce = cvm.status?.challenge?.nonce;
    if (this.#closed || nonce === undefined || this.#answered.has(nonce)) return;
    this.#pending.set(name, cvm);
    this.#pump();
  }

  close(): void {
    this.#closed = true;
    for (const timer of this.#retryTimers) clearTimeout(timer);
    for (const client of this.#clients) client.close();
  }

  #pump(): void {
    while (this.#active < this.#options.concurrency && this.#pending.size > 0) {
      const [name, cvm] = this.#pending.entries().next().value as [string, ConfidentialVM];
      this.#pending.delete(name);
      this.#active += 1;
      void this.#guestFor(name)
        .then((guest) => guest.handle(cvm))
        .then((result) => {
          if (result.answered !== undefined) this.#answered.add(result.answered.nonce);
          if (result.error !== undefined) throw result.error;
        })
        .catch((error: unknown) => {
          this.failures += 1;
          if (this.failureMessages.length < 5)
            this.failureMessages.push(`${name}: ${(error as Error).message}`);
          this.#retryLater(cvm);
        })
        .finally(() => {
          this.#active -= 1;
          this.#pump();
        });
    }
  }

  #retryLater(cvm: ConfidentialVM): void {
    const delay = this.#options.retryAfterMs;
    if (delay === undefined || this.#closed) return;
    const timer = setTimeout(() => {
      this.#retryTimers.delete(timer);
      // A newer version seen meanwhile wins.
      if (!this.#pending.has(cvm.metadata.name ?? "")) this.observe(cvm);
    }, delay);
    this.#retryTimers.add(timer);
  }

  #guestFor(name: string): Promise<Guest> {
    let guest = this.#guests.get(name);
    if (guest === undefined) {
      guest = (async () => {
        const files = await guestFilesFromCloudInit(
          this.#cluster.kc,
          NS,
          name,
          join(this.#cluster.dir, "guests", name),
        );
        const config = await loadGuestConfig(files.config);
        const api = new CvmClient(guestConnection(config, files.config), config);
        this.#clients.push(api);
        return new Guest({
          api,
          providers: this.#providers,
          secretsDir: files.secretsDir,
          log: pino({ level: "silent" }),
          ...(this.#options.maxAttempts === undefined ? {} : { maxAttempts: this.#options.maxAttempts }),
        });
      })();
      // A guest that could not start (its Secret not readable yet) is set up again on the next try.
      guest.catch(() => this.#guests.delete(name));
      this.#guests.set(name, guest);
    }
    return guest;
  }
}
