import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { describeFailure, HostRoot, type HostFailure } from "./host-root.ts";
import { parseKernelBool } from "./sources/read-helpers.ts";

describe("HostRoot", () => {
  let root: string;
  let host: HostRoot;

  before(() => {
    root = mkdtempSync(join(tmpdir(), "host-root-"));
    mkdirSync(join(root, "sys/a/dir"), { recursive: true });
    writeFileSync(join(root, "sys/a/text"), "hello\n");
    writeFileSync(join(root, "sys/a/flag"), "Y\n");
    writeFileSync(join(root, "sys/a/odd"), "perhaps\n");
    writeFileSync(join(root, "sys/a/binary"), Buffer.from([0xff, 0xfe, 0x00]));
    writeFileSync(join(root, "sys/a/big"), "x".repeat(100));
    symlinkSync("loop", join(root, "sys/a/loop"));
    symlinkSync("../../bus/pci/drivers/vfio-pci", join(root, "sys/a/driver"));
    host = new HostRoot(root);
  });
  after(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it("reads a file's text under the root", async () => {
    expect(await host.readText("/sys/a/text")).to.deep.equal({ kind: "value", value: "hello\n" });
  });

  it("tells a missing file from an unreadable one, naming the host path", async () => {
    expect(await host.readText("/sys/a/none")).to.deep.equal({ kind: "missing", path: "/sys/a/none" });
    expect(await host.readText("/sys/a/dir")).to.deep.include({ kind: "unreadable", reason: "EISDIR" });
    expect(await host.readText("/sys/a/loop")).to.deep.include({ kind: "unreadable", reason: "ELOOP" });
  });

  it("calls oversized and non-UTF-8 files malformed instead of reading them", async () => {
    expect(await host.readText("/sys/a/big", 10)).to.deep.include({ kind: "malformed" });
    expect(await host.readText("/sys/a/binary")).to.deep.include({
      kind: "malformed",
      reason: "not UTF-8 text",
    });
  });

  it("parses trimmed values and reports parse failures as malformed", async () => {
    expect(await host.readValue("/sys/a/flag", parseKernelBool)).to.deep.equal({
      kind: "value",
      value: true,
    });
    const odd = (await host.readValue("/sys/a/odd", parseKernelBool)) as HostFailure;
    expect(odd.kind).to.equal("malformed");
    expect(describeFailure(odd)).to.match(/^\/sys\/a\/odd malformed: expected Y, N/);
  });

  it("reads the name a symlink points to without following it", async () => {
    expect(await host.readLinkName("/sys/a/driver")).to.deep.equal({ kind: "value", value: "vfio-pci" });
    expect(await host.readLinkName("/sys/a/text")).to.deep.include({ kind: "malformed" });
    expect(await host.readLinkName("/sys/a/none")).to.deep.include({ kind: "missing" });
  });

  it("lists directories sorted and calls a file where a directory belongs malformed", async () => {
    expect(await host.list("/sys/a")).to.deep.equal({
      kind: "value",
      value: ["big", "binary", "dir", "driver", "flag", "loop", "odd", "text"],
    });
    expect(await host.list("/sys/a/text")).to.deep.include({ kind: "malformed", reason: "not a directory" });
    expect(await host.list("/sys/none")).to.deep.include({ kind: "missing" });
  });

  it("refuses host paths that are relative or climb out of the root", () => {
    expect(() => host.resolve("sys/a")).to.throw(/absolute/);
    expect(() => host.resolve("/sys/../../etc/shadow")).to.throw(/'\.\.'/);
  });
});
