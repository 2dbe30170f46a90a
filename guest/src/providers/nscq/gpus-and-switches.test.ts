import { expect } from "chai";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
});
