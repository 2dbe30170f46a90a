import { expect } from "chai";
import { runCli } from "../cli/main.ts";
import { commands } from "./commands.ts";

async function uninstall(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await runCli(commands, ["uninstall", ...args], {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
  });
  return { code, stdout, stderr };
}

describe("trustgate uninstall: flags", function () {
  it("refuses bad flags with exit 2 and a message naming the flag, before touching any cluster", async function () {
    const cases: [string[], RegExp][] = [
      [["--confidential-vms", "drain"], /--confidential-vms must be release or delete, not "drain"/],
      [
        ["--stop-controller", "just-a-name"],
        /--stop-controller "just-a-name" is not <namespace>\/<deployment>/,
      ],
      [["--timeout", "soon"], /--timeout: invalid duration "soon"/],
      [["extra"], /unexpected argument "extra"/],
      [["--bogus"], /Unknown option '--bogus'/],
    ];
    for (const [args, message] of cases) {
      const result = await uninstall(...args, "--kubeconfig", "/nonexistent");
      expect(result.code, args.join(" ")).to.equal(2);
      expect(result.stderr, args.join(" ")).to.match(message);
    }
  });

  it("exits 1 with one line naming the problem when the cluster cannot be read", async function () {
    const result = await uninstall("--kubeconfig", "/nonexistent/kubeconfig");
    expect(result.code).to.equal(1);
    expect(result.stderr).to.match(
      /^trustgate uninstall: cannot read the cluster: .*\/nonexistent\/kubeconfig/,
    );
    expect(result.stderr.trim().split("\n")).to.have.length(1);
  });
});
