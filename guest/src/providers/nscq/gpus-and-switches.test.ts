import { expect } from "chai";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createProviders } from "../select.ts";
import { nvswitchesPresent } from "./gpus-and-switches.ts";

describe("nvswitchesPresent (choosing the NSCQ collector)", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "trustgate-dev-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("is true with an NVSwitch device node, false with only GPU nodes or no directory", async () => {
    await writeFile(join(dir, "nvidia0"), "");
    await writeFile(join(dir, "nvidia-nvswitchctl"), "");
    expect(await nvswitchesPresent(dir)).to.equal(false);
    await writeFile(join(dir, "nvidia-nvswitch3"), "");
    expect(await nvswitchesPresent(dir)).to.equal(true);
    expect(await nvswitchesPresent(join(dir, "absent"))).to.equal(false);
  });

  it("createProviders: nvml adds the NSCQ collector when NVSwitch nodes exist; nvml+nscq always does", async () => {
    const choice = { tee: "configfs-tsm" as const, tsmRoot: join(dir, "tsm"), devRoot: dir };
    expect((await createProviders({ ...choice, gpu: "nvml" })).gpus?.name).to.equal("nvml");
    expect((await createProviders({ ...choice, gpu: "nvml+nscq" })).gpus?.name).to.equal("nvml+nscq");
    await writeFile(join(dir, "nvidia-nvswitch0"), "");
    expect((await createProviders({ ...choice, gpu: "nvml" })).gpus?.name).to.equal("nvml+nscq");
  });
});
