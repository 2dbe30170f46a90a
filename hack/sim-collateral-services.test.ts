import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { createAttestationServiceClient } from "../operator/src/attestation/collateral/attestation-service-client.ts";
import { httpsTransport } from "../operator/src/http/transport.ts";
import { createSimPki } from "../operator/src/attestation/simulated/sim-pki.ts";
import { SIMULATED_TDX_FMSPC } from "../operator/src/attestation/simulated/tdx-platform.ts";
import { isRevoked, parseCrl } from "../operator/src/attestation/tdx/crl.ts";
import { issuePckLeaf } from "../operator/src/attestation/simulated/intel-pki.ts";
import { loadSimPki } from "../operator/src/attestation/simulated/sim-pki.ts";
import { SIMULATED_TDX_PCK_TCB } from "../operator/src/attestation/simulated/tdx-platform.ts";

const SCRIPT = new URL("./sim-collateral-services.ts", import.meta.url).pathname;

interface Run {
  child: ChildProcess;
  exit: Promise<{ code: number | null; stderr: string }>;
}

function start(args: string[]): Run {
  const child = spawn(process.execPath, [SCRIPT, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.resume();
  const exit = new Promise<{ code: number | null; stderr: string }>((resolve) => {
    child.on("exit", (code) => {
      resolve({ code, stderr });
    });
  });
  return { child, exit };
}

async function waitForFile(path: string, run: Run): Promise<string> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const text = await readFile(path, "utf8").catch(() => undefined);
    if (text !== undefined) return text.trim();
    if (run.child.exitCode !== null) throw new Error(`exited early: ${(await run.exit).stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${path} never appeared`);
}

describe("hack/sim-collateral-services.ts", function () {
  this.timeout(30_000);
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "trustgate-sim-services-"));
    await createSimPki(join(dir, "pki"));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("serves the PKI's collateral over HTTPS, writes its URL and CA, and stops on SIGTERM", async () => {
    const [urlFile, caFile] = [join(dir, "url"), join(dir, "ca.pem")];
    const run = start([
      "--pki",
      join(dir, "pki"),
      "--url-file",
      urlFile,
      "--ca-file",
      caFile,
      "--revoke-machine",
      "bad-node",
    ]);
    try {
      const url = await waitForFile(urlFile, run);
      expect(url).to.match(/^https:\/\/127\.0\.0\.1:\d+$/);
      const client = createAttestationServiceClient({
        transport: httpsTransport({ caPem: await readFile(caFile, "utf8"), proxyEnv: null }),
      });
      const get = (path: string) => client.get(`${url}${path}`, { service: "intel-pcs" });
      const tcb = await get(`/tdx/certification/v4/tcb?fmspc=${SIMULATED_TDX_FMSPC}`);
      expect(tcb?.status).to.equal(200);
      expect(Buffer.from(tcb?.body ?? []).toString()).to.match(/^\{"tcbInfo":\{"id":"TDX","version":3,/);
      const crl = await get("/sgx/certification/v4/pckcrl?ca=platform&encoding=der");
      const intel = (await loadSimPki(join(dir, "pki"))).intel!;
      const parsed = parseCrl(new Uint8Array(crl?.body ?? []), "PCK CRL");
      expect(isRevoked(parsed, issuePckLeaf(intel, "bad-node", SIMULATED_TDX_PCK_TCB).certificate)).to.equal(
        true,
      );
      expect(isRevoked(parsed, issuePckLeaf(intel, "good-node", SIMULATED_TDX_PCK_TCB).certificate)).to.equal(
        false,
      );
      expect((await get("/vcek/v1/Genoa/cert_chain"))?.status).to.equal(200);
    } finally {
      run.child.kill("SIGTERM");
    }
    expect((await run.exit).code).to.equal(0);
  });

  it("explains its usage (2) and names what it cannot read (1)", async () => {
    const usage = await start(["--pki", join(dir, "pki")]).exit;
    expect(usage.code).to.equal(2);
    expect(usage.stderr).to.include("--pki, --url-file and --ca-file are required");
    expect(
      (await start(["--pki", "x", "--url-file", "u", "--ca-file", "c", "--port", "70000"]).exit).code,
    ).to.equal(2);
    const missing = await start([
      "--pki",
      join(dir, "nope"),
      "--url-file",
      join(dir, "u"),
      "--ca-file",
      join(dir, "c"),
    ]).exit;
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.include("cannot read sim-pki.json");
  });
});
