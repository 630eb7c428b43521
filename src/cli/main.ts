// The headless main job: `node dist/cli.js train ...` and `node dist/cli.js prepare ...`.
// Exit codes: 0 ok, 1 training (or preparation) failed, 2 bad usage.
import { isAbsolute, relative } from "node:path";
import { runCli } from "./runCli";
import { shellWord, type CliIO } from "./trainSession";

/** `node dist/cli.js` as typed from this folder (the script's absolute path when it lies outside it). */
function invocation(cwd: string, script: string | undefined): string {
  if (!script) return "node dist/cli.js";
  const rel = relative(cwd, script);
  return `node ${shellWord(rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : script)}`;
}

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
  invocation: invocation(process.cwd(), process.argv[1]),
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
