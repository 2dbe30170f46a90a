/**
 * Runs `trustgate reference-values snp` from source until the CLI registers it:
 *   node hack/snp-launch-measurement.ts --ovmf OVMF.fd --vcpus 1,2 --vcpu-type EPYC-v4 -o hex
 */
import { parseCommandArgs, UsageError } from "../operator/src/cli/command.ts";
import { referenceValuesSnpCommand } from "../operator/src/cmd/reference-values-snp.ts";

const io = {
  stdout: (text: string) => process.stdout.write(text),
  stderr: (text: string) => process.stderr.write(text),
};
try {
  const args = parseCommandArgs(referenceValuesSnpCommand, process.argv.slice(2));
  if (args.values["help"] === true) io.stdout(`${referenceValuesSnpCommand.usage}\n`);
  else process.exitCode = await referenceValuesSnpCommand.run(args, io);
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  io.stderr(`${error.message}\n${referenceValuesSnpCommand.usage}\n`);
  process.exitCode = 2;
}
