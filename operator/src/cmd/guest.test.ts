import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import type { ParsedArgs } from "../cli/command.ts";
import { guestOptionsFromArgs } from "./guest.ts";

const args = (values: ParsedArgs["values"], positionals: string[] = []): ParsedArgs => ({
  values,
  positionals,
});
const MAIN = new URL("./main.ts", import.meta.url).pathname;

function usageError(values: ParsedArgs["values"], positionals: string[] = []): string {
  try {
    guestOptionsFromArgs(args(values, positionals));
  } catch (error) {
    return (error as Error).message;
  }
  return "accepted";
}

describe("trustgate guest flags", () => {
  it("defaults to the real providers, the cloud-init config, a tmpfs secrets directory and the image's JWKS", () => {
    expect(guestOptionsFromArgs(args({}))).to.deep.equal({
      configFile: "/etc/trustgate/guest.json",
      secretsDir: "/run/trustgate/secrets",
      operatorJwksFile: "/etc/trustgate/operator-jwks.json",
      providers: { tee: "configfs-tsm", gpu: "nvml", tsmRoot: "/sys/kernel/config/tsm/report" },
      once: false,
      selfCheck: true,
    });
  });

  it("selects simulated providers only with a simulated PKI", () => {
    expect(
      guestOptionsFromArgs(
        args({ "tee-provider": "simulated", "gpu-provider": "simulated", "sim-pki": "/tmp/pki", once: true }),
      ),
    ).to.deep.include({
      providers: {
        tee: "simulated",
        gpu: "simulated",
        tsmRoot: "/sys/kernel/config/tsm/report",
        simPki: "/tmp/pki",
      },
      once: true,
    });
    expect(usageError({ "tee-provider": "simulated" })).to.equal(
      "trustgate guest: --sim-pki <dir> is required with simulated providers",
    );
    expect(usageError({ "sim-pki": "/tmp/pki" })).to.equal(
      "trustgate guest: --sim-pki is only for the simulated providers",
    );
  });

  it("takes a simulated GPU driver state file only with the simulated GPUs", () => {
    const simulated = {
      "gpu-provider": "simulated",
      "sim-pki": "/tmp/pki",
      "sim-gpu-state": "/tmp/gpu.json",
    };
    expect(guestOptionsFromArgs(args(simulated)).providers).to.deep.include({ simGpuState: "/tmp/gpu.json" });
    expect(usageError({ "sim-gpu-state": "/tmp/gpu.json" })).to.equal(
      "trustgate guest: --sim-gpu-state is only for --gpu-provider simulated",
    );
  });

  it("rejects unknown providers and positional arguments", () => {
    expect(usageError({ "gpu-provider": "nvidia-smi" })).to.equal(
      'trustgate guest: --gpu-provider must be one of nvml, nvml+nscq, simulated, none, not "nvidia-smi"',
    );
    expect(usageError({ "tee-provider": "sev" })).to.include(
      "--tee-provider must be one of configfs-tsm, simulated",
    );
    expect(usageError({}, ["extra"])).to.equal("trustgate guest: takes no arguments");
    expect(guestOptionsFromArgs(args({ "gpu-provider": "none", "skip-self-check": true }))).to.deep.include({
      selfCheck: false,
    });
  });

  it("exits 2 with the config file's problems, before touching the network", async function () {
    this.timeout(20_000);
    const dir = await mkdtemp(join(tmpdir(), "trustgate-guest-cmd-"));
    try {
      await writeFile(
        join(dir, "guest.json"),
        JSON.stringify({ apiServer: "http://x", namespace: "a", name: "b" }),
      );
      let failure: { code?: number; stderr?: string } = {};
      await promisify(execFile)(process.execPath, [
        MAIN,
        "guest",
        "--config",
        join(dir, "guest.json"),
        "--gpu-provider",
        "none",
      ]).catch((error: unknown) => (failure = error as typeof failure));
      expect(failure.code).to.equal(2);
      expect(failure.stderr).to.include('apiServer "http://x" must be an https URL; caData is required');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
