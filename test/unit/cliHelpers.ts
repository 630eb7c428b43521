// The CLI's input/output for tests: stdout and stderr kept in memory, and the Ctrl-C handler callable.
import type { CliIO } from "../../src/cli/train";

export function memoryIO(cwd: string, isTTY = false) {
  const out: string[] = [];
  const err: string[] = [];
  let interrupt: (() => void) | null = null;
  const io: CliIO = {
    stdout: (t) => out.push(t),
    stderr: { write: (t) => err.push(t), isTTY, columns: 120 },
    cwd,
    onInterrupt: (cb) => {
      interrupt = cb;
      return () => (interrupt = null);
    },
  };
  return { io, out: () => out.join(""), err: () => err.join(""), interrupt: () => interrupt?.() };
}
