import { expect } from "chai";
import { commands } from "../cmd/commands.ts";
import { type Command, InputError, UsageError } from "./command.ts";
import { type CommandEntry, oneLine, runCli } from "./main.ts";
import { VERSION } from "../version.ts";

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
    expect(capture.err.join("")).to.equal(
      "trustgate: unknown command 'attest-everything'\nRun 'trustgate --help' for usage.\n",
    );
  });

  function entryThrowing(error: unknown): CommandEntry {
    const failing: Command = {
      name: "x",
      summary: "",
      usage: "Usage: trustgate x\n\n(a long usage text)",
      options: { flag: { type: "string" } },
      // A command may throw anything, a string included: the handler must cope.
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      run: () => Promise.reject(error),
    };
    return { name: "x", summary: "", load: () => Promise.resolve(failing) };
  }

  it("turns unknown flags and usage errors into exit 2: one line and a hint to --help, not the usage", async () => {
    const entry = entryThrowing(new UsageError("trustgate x: no"));
    for (const argv of [["x", "--bogus"], ["x"]]) {
      const capture = io();
      expect(await runCli([entry], argv, capture.io)).to.equal(2);
      const lines = capture.err.join("").trimEnd().split("\n");
      expect(lines).to.have.length(2);
      expect(lines[1]).to.equal("Run 'trustgate x --help' for usage.");
      expect(capture.err.join("")).not.to.include("a long usage text");
    }
    const bogus = io();
    await runCli([entry], ["x", "--bogus"], bogus.io);
    expect(bogus.err[0]).to.equal(
      "trustgate x: Unknown option '--bogus'\nRun 'trustgate x --help' for usage.\n",
    );
  });

  it("turns an input error into exit 2 and one line, without a hint", async () => {
    const capture = io();
    const code = await runCli(
      [entryThrowing(new InputError("trustgate x: f is not JSON"))],
      ["x"],
      capture.io,
    );
    expect(code).to.equal(2);
    expect(capture.err.join("")).to.equal("trustgate x: f is not JSON\n");
  });

  it("turns an unexpected error into exit 1 and one line; the stack only with --debug or TRUSTGATE_DEBUG=1", async () => {
    const boom = new TypeError("cannot read properties of undefined\n  (reading 'keys')");
    const plain = io();
    expect(await runCli([entryThrowing(boom)], ["x"], plain.io)).to.equal(1);
    expect(plain.err.join("")).to.equal(
      "trustgate x: cannot read properties of undefined (reading 'keys') (--debug for the stack trace)\n",
    );
    for (const [argv, env] of [
      [["--debug", "x"], {}],
      [["x", "--debug", "--flag", "v"], {}],
      [["x"], { debug: true }],
    ] as const) {
      const debug = io();
      expect(await runCli([entryThrowing(boom)], [...argv], debug.io, env)).to.equal(1);
      expect(debug.err.join("")).to.include("TypeError: cannot read properties of undefined");
      expect(debug.err.join("")).to.match(/\n\s+at /);
    }
    // After `--`, --debug is a positional of the command, not the global flag.
    const positional = io();
    await runCli([entryThrowing(boom)], ["x", "--", "--debug"], positional.io);
    expect(positional.err.join("")).not.to.match(/\n\s+at /);
  });

  it("names the cause of an unexpected network error (fetch failed)", async () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:6443"), { code: "ECONNREFUSED" });
    const capture = io();
    expect(
      await runCli([entryThrowing(new TypeError("fetch failed", { cause: refused }))], ["x"], capture.io),
    ).to.equal(1);
    expect(capture.err[0]).to.equal(
      "trustgate x: fetch failed: connection refused (ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:6443) (--debug for the stack trace)\n",
    );
  });

  it("reports a non-Error throw and a failing module load as one line, exit 1", async () => {
    const thrown = io();
    expect(await runCli([entryThrowing("a string")], ["x"], thrown.io)).to.equal(1);
    expect(thrown.err).to.deep.equal(["trustgate x: a string (--debug for the stack trace)\n"]);
    const broken: CommandEntry = {
      name: "y",
      summary: "",
      load: () => Promise.reject(new Error("no module")),
    };
    const load = io();
    expect(await runCli([broken], ["y"], load.io)).to.equal(1);
    expect(load.err).to.deep.equal(["trustgate y: no module (--debug for the stack trace)\n"]);
  });

  it("prints --version like the version command", async () => {
    const capture = io();
    expect(await runCli(commands, ["--version"], capture.io)).to.equal(0);
    const version = io();
    await runCli(commands, ["version"], version.io);
    expect(capture.out.join("")).to.equal(`trustgate ${VERSION}\n`);
    expect(version.out.join("")).to.include(`trustgate ${VERSION} (node `);
  });

  it("puts a multi-line message on one line, control characters escaped", () => {
    expect(oneLine("a\n  b\r\nc \n")).to.equal("a b c");
    expect(oneLine('Unexpected token, "\u001b[2Jx" is not valid JSON')).to.equal(
      'Unexpected token, "\\u001b[2Jx" is not valid JSON',
    );
  });

  it("prints the version", async () => {
    const capture = io();
    expect(await runCli(commands, ["version", "--json"], capture.io)).to.equal(0);
    expect(JSON.parse(capture.out.join(""))).to.have.property("version", "0.1.0");
  });
});
