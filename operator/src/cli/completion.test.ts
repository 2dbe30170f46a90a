import { expect } from "chai";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { commands } from "../cmd/commands.ts";
import { GLOBAL_OPTIONS, type Command } from "./command.ts";
import { bashCompletion, zshCompletion } from "./completion.ts";
import { runCli } from "./main.ts";

const run = promisify(execFile);

async function script(shell: string): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await runCli(commands, ["completion", shell], {
    stdout: (t) => (out += t),
    stderr: (t) => (err += t),
  });
  return { code, out, err };
}

describe("trustgate completion", function () {
  this.timeout(30_000);
  let loaded: Command[];
  const dir = mkdtempSync(join(tmpdir(), "trustgate-completion-"));
  before(async () => {
    loaded = await Promise.all(commands.map((c) => c.load()));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("generates both scripts from the command table: every command and every flag of each", async () => {
    for (const shell of ["bash", "zsh"]) {
      const { code, out } = await script(shell);
      expect(code).to.equal(0);
      for (const command of loaded) {
        expect(out, `${shell}: ${command.name}`).to.include(`    ${command.name})`);
        for (const flag of Object.keys({ ...command.options, ...GLOBAL_OPTIONS }))
          expect(out, `${shell}: ${command.name} --${flag}`).to.match(new RegExp(`--${flag}\\b`));
      }
    }
  });

  it("exits 2 for a shell it does not know, naming the ones it does", async () => {
    const { code, err } = await script("fish");
    expect(code).to.equal(2);
    expect(err).to.equal(
      "trustgate completion: give one shell: bash or zsh\nRun 'trustgate completion --help' for usage.\n",
    );
  });

  /** Completions bash offers for the words typed so far (the last one being completed). */
  async function complete(words: string[]): Promise<string[]> {
    const file = join(dir, "trustgate.bash");
    writeFileSync(file, bashCompletion(loaded));
    const quoted = words.map((w) => `'${w}'`).join(" ");
    const { stdout } = await run("bash", [
      "-c",
      `cd "${dir}" && source "${file}" && COMP_WORDS=(trustgate ${quoted}) && COMP_CWORD=${String(words.length)} && _trustgate && printf '%s\\n' "\${COMPREPLY[@]}"`,
    ]);
    return stdout.split("\n").filter((l) => l !== "");
  }

  it("bash: completes commands, a command's flags, and the fixed values of a flag", async () => {
    expect(await complete(["verif"])).to.deep.equal(["verify", "verify-token"]);
    expect(await complete(["verify", "--fail"])).to.deep.equal(["--fail-on"]);
    expect(await complete(["verify", "-o", ""])).to.deep.equal(["json", "yaml", "text"]);
    expect(await complete(["verify", "--output", "y"])).to.deep.equal(["yaml"]);
    expect(await complete(["completion", "--h"])).to.deep.equal(["--help"]);
    expect(await complete(["agent", "--host-r"])).to.deep.equal(["--host-root"]);
    // Values of other flags, and positionals, are files.
    writeFileSync(join(dir, "bundle.json"), "{}");
    expect(await complete(["verify", "bun"])).to.deep.equal(["bundle.json"]);
    expect(await complete(["verify", "--policy", "bun"])).to.deep.equal(["bundle.json"]);
  });

  it("zsh: one _arguments line per command with each flag's values, and compdef when sourced", () => {
    const zsh = zshCompletion(loaded);
    expect(zsh.split("\n")[0]).to.equal("#compdef trustgate");
    expect(zsh).to.include("'--output:value:(json yaml text)' '-o:value:(json yaml text)'");
    expect(zsh).to.include("'*--rim-dir:value:_files'");
    expect(zsh).to.include("compdef _trustgate trustgate");
    expect(zsh).to.include(
      "    'verify-token:Check a signed attestation result offline against the operator'\\''s JWKS'",
    );
  });

  it("refuses to generate a word that would need shell quoting", () => {
    const bad = { name: "x;rm", summary: "", options: {} };
    expect(() => bashCompletion([bad])).to.throw(/cannot complete "x;rm"/);
  });

  it("zsh: the script parses, registers with compinit, and hands each command's specs to _arguments", async function () {
    const zsh = await run("zsh", ["-c", "true"]).catch(() => undefined);
    if (zsh === undefined) this.skip();
    const file = join(dir, "_trustgate");
    writeFileSync(file, zshCompletion(loaded));
    await run("zsh", ["-n", file]);
    const registered = await run("zsh", [
      "-c",
      `autoload -Uz compinit && compinit -u -d "${dir}/zcompdump" && source "${file}" && print -r -- "\${_comps[trustgate]}"`,
    ]);
    expect(registered.stdout.trim()).to.equal("_trustgate");
    // _arguments and _describe stubbed to print what they are given: the dispatch on the command word.
    const dispatched = await run("zsh", [
      "-c",
      `autoload -Uz compinit && compinit -u -d "${dir}/zcompdump" && source "${file}" && ` +
        `_arguments() { print -l -- "$@"; } && _describe() { print -l -- "$@"; } && ` +
        `words=(trustgate verify -o) && CURRENT=3 && _trustgate`,
    ]);
    expect(dispatched.stdout.split("\n")).to.include.members([
      "--output:value:(json yaml text)",
      "--fail-on:value:(warning contraindicated)",
      "*:file:_files",
    ]);
  });
});
