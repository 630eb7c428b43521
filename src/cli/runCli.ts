// Dispatches the headless main job's subcommands (`train`, `prepare`, `compare`, `export`); main.ts wires it to the process.
// Exit codes: 0 ok, 1 training (or preparation) failed, 2 bad usage.
import { UsageError } from "./args";
import { PREPARE_USAGE, prepareCommand } from "./prepare";
import { COMPARE_USAGE, EXPORT_USAGE, compareCommand, exportCommand } from "./runsCommands";
import { TRAIN_USAGE, trainCommand, type CliIO } from "./train";

const USAGE = `HiMA command line
${TRAIN_USAGE}
${PREPARE_USAGE}
${COMPARE_USAGE}
${EXPORT_USAGE}`;

export async function runCli(argv: readonly string[], io: CliIO): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case "train":
        return await trainCommand(rest, io);
      case "prepare":
        return await prepareCommand(rest, io);
      case "compare":
        return await compareCommand(rest, io);
      case "export":
        return await exportCommand(rest, io);
      case "help":
      case "--help":
      case "-h":
        io.stdout(`${USAGE}\n`);
        return 0;
      default:
        throw new UsageError(command ? `unknown command ${JSON.stringify(command)}` : "no command given");
    }
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`hima: ${e.message}\n${USAGE}\n`);
      return 2;
    }
    io.stderr.write(`hima: ${(e as Error).stack ?? String(e)}\n`);
    return 1;
  }
}
