// Asks the trainer whether a launch would start (`python -m hima train ... --check`) before the run folder is
// made: a bad *.hima.json, an unknown preset, cutoffs out of range or a missing data folder is then a clear
// message and no half-made run left in the runs list. The checks are the trainer's own (hima.app.config, the
// data reader), not a copy of them here. Used by the CLI and the extension's Start Training.
import { spawn } from "node:child_process";

export type ConfigCheck =
  | { kind: "ok" }
  /** The trainer refused the configuration (its exit code 2): `problem` is its one-line reason. */
  | { kind: "refused"; problem: string }
  /** The check itself could not run (no Python, no trainer, a timeout): the launch goes ahead and reports its own failure. */
  | { kind: "inconclusive"; detail: string };

export interface ConfigCheckLaunch {
  command: string;
  /** The trainer's arguments (`-m hima train ...`, without torch.distributed.run): `--check` is appended. */
  args: string[];
  cwd: string;
  env?: NodeJS.ProcessEnv;
}

/** Importing torch on a busy 2-core machine takes seconds; a check that takes this long is not waited for. */
export const CONFIG_CHECK_TIMEOUT_MS = 120_000;
const STDERR_LIMIT = 64 * 1024;

/** The reason in the trainer's stderr: its last non-empty line, without the logger's `hima: ` prefix. */
export function refusalReason(stderr: string): string {
  const lines = stderr.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  const last = lines.at(-1) ?? "the trainer refused the configuration (exit code 2) without saying why";
  return last.replace(/^hima: /, "");
}

export function checkTrainerConfig(launch: ConfigCheckLaunch, timeoutMs = CONFIG_CHECK_TIMEOUT_MS): Promise<ConfigCheck> {
  return new Promise((resolve) => {
    let stderr = "";
    let settled = false;
    const settle = (result: ConfigCheck) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const child = spawn(launch.command, [...launch.args, "--check"], {
      cwd: launch.cwd,
      env: { ...(launch.env ?? process.env), PYTHONUNBUFFERED: "1", PYTHONIOENCODING: "utf-8" },
      stdio: ["ignore", "ignore", "pipe"],
      shell: false,
      windowsHide: true,
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      settle({ kind: "inconclusive", detail: `the configuration check took longer than ${(timeoutMs / 1000).toFixed(timeoutMs < 10_000 ? 1 : 0)} s` });
    }, timeoutMs);
    child.stderr!.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString("utf8")).slice(-STDERR_LIMIT);
    });
    child.on("error", (err) => settle({ kind: "inconclusive", detail: `cannot run ${JSON.stringify(launch.command)}: ${err.message}` }));
    child.on("close", (code, signal) => {
      if (code === 0) settle({ kind: "ok" });
      else if (code === 2) settle({ kind: "refused", problem: refusalReason(stderr) });
      else settle({ kind: "inconclusive", detail: `the configuration check ended with ${signal ? `signal ${signal}` : `exit code ${code}`}` });
    });
  });
}
