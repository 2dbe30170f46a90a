import { expect } from "chai";
import { commands } from "../cmd/commands.ts";
import { type Command, UsageError } from "./command.ts";
import { runCli } from "./main.ts";

function io(): {
  out: string[];
  err: string[];
  io: { stdout: (t: string) => void; stderr: (t: string) => void };
} {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { stdout: (t) => out.push(t), stderr: (t) => err.push(t) } };
}

describe("trustgate CLI wiring", () => {
  it("lists every subcommand with its summary, the same one the command declares", async () => {
    const capture = io();
    expect(await runCli(commands, ["help"], capture.io)).to.equal(0);
    for (const entry of commands) {
      const command = await entry.load();
      expect(command.name).to.equal(entry.name);
      expect(command.summary).to.equal(entry.summary);
      expect(capture.out.join("")).to.include(`${entry.name}  `);
    }
  });

  it("exits 2 naming an unknown command", async () => {
    const capture = io();
    expect(await runCli(commands, ["attest-everything"], capture.io)).to.equal(2);
    expect(capture.err.join("")).to.include("unknown command 'attest-everything'");
  });

  it("turns unknown flags and usage errors into exit 2 with the command's usage", async () => {
    const failing: Command = {
      name: "x",
      summary: "",
      usage: "Usage: trustgate x",
      options: {},
      run: () => Promise.reject(new UsageError("trustgate x: no")),
    };
    const entry = { name: "x", summary: "", load: () => Promise.resolve(failing) };
    const capture = io();
    expect(await runCli([entry], ["x", "--bogus"], capture.io)).to.equal(2);
    expect(await runCli([entry], ["x"], capture.io)).to.equal(2);
    expect(capture.err.join("")).to.include("Usage: trustgate x");
  });

  it("prints the version", async () => {
    const capture = io();
    expect(await runCli(commands, ["version", "--json"], capture.io)).to.equal(0);
    expect(JSON.parse(capture.out.join(""))).to.have.property("version", "0.1.0");
  });
});
