// The headless main job: `node dist/cli.js train ...` and `node dist/cli.js prepare ...`.
// Exit codes: 0 ok, 1 training (or preparation) failed, 2 bad usage.
import { runCli } from "./runCli";
import type { CliIO } from "./train";

const io: CliIO = {
  stdout: (text) => process.stdout.write(text),
  stderr: {
    write: (text) => process.stderr.write(text),
    isTTY: process.stderr.isTTY === true,
    get columns() {
      return process.stderr.columns;
    },
  },
  cwd: process.cwd(),
  onInterrupt: (cb) => {
    process.on("SIGINT", cb);
    process.on("SIGTERM", cb);
    return () => {
      process.off("SIGINT", cb);
      process.off("SIGTERM", cb);
    };
  },
};
runCli(process.argv.slice(2), io).then(
  (code) => (process.exitCode = code),
  (e) => {
    process.stderr.write(`hima: ${String(e)}\n`);
    process.exitCode = 1;
  },
);
