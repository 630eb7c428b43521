// One trainer process of a fault-injection run ("a segment"): started (resuming from the run folder's
// latest checkpoint when there is one), watched through its stdout events, and either SIGKILLed at a
// chosen point or left to finish. No shell: the argument list goes straight to the process.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Event } from "../../protocol/protocol.generated";
import { JsonLinesReader } from "../../src/run/JsonLinesReader";
import { validateEvent } from "../../src/run/validateEvent";

export const PYTHON = process.env.HIMA_PYTHON || "python3";

export interface TrainerSetup {
  dataDir: string;
  configFile: string;
  maxSteps: number;
}

/** Where a segment is killed: after the step event for `step` (plus `delayMs`, to land mid-step or
 * mid-checkpoint), or `delayMs` after spawn whatever happened by then (e.g. still importing torch). */
export type KillPoint = { afterStep: number; delayMs: number } | { afterSpawnMs: number } | null;

export interface SegmentResult {
  /** Events seen on stdout (the log file is checked separately). */
  events: Event[];
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  /** Anything on stdout that was not a valid event (must stay empty). */
  noise: string[];
}

const running = new Set<ChildProcess>();

/** The step the run folder's `latest` checkpoint holds, or null when there is none yet. */
export function latestCheckpointStep(runDir: string): number | null {
  const pointer = join(runDir, "checkpoints", "latest");
  if (!existsSync(pointer)) return null;
  const match = /^ckpt-(\d{8})\.pt$/.exec(readFileSync(pointer, "utf8").trim());
  if (!match) throw new Error(`${pointer} does not name a checkpoint file`);
  return Number(match[1]);
}

export function runSegment(setup: TrainerSetup, runDir: string, kill: KillPoint, timeoutMs: number): Promise<SegmentResult> {
  const args = ["-m", "hima", "train", "--preset", "tiny", "--config", setup.configFile, "--data", setup.dataDir, "--out", runDir,
    "--device", "cpu", "--max-steps", String(setup.maxSteps), "--control-socket", join(runDir, "control.sock")];
  if (latestCheckpointStep(runDir) !== null) args.push("--resume", runDir);
  const child = spawn(PYTHON, args, { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, PYTHONUNBUFFERED: "1" } });
  running.add(child);
  const events: Event[] = [];
  const noise: string[] = [];
  let stderr = "";
  let timers: NodeJS.Timeout[] = [];
  const killNow = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  const killLater = (ms: number) => timers.push(setTimeout(killNow, ms));
  const reader = new JsonLinesReader((value) => {
    const e = validateEvent(value);
    if (typeof e === "string") {
      noise.push(`invalid event (${e}): ${JSON.stringify(value).slice(0, 200)}`);
      return;
    }
    events.push(e);
    if (kill && "afterStep" in kill && e.type === "step" && e.step >= kill.afterStep && timers.length === 0) killLater(kill.delayMs);
  }, (text, reason) => {
    // A SIGKILL can cut the stdout copy mid-line too; only the file's rules are checked by the caller.
    if (!reason.startsWith("torn")) noise.push(`${reason}: ${text}`);
  });
  if (kill && "afterSpawnMs" in kill) killLater(kill.afterSpawnMs);
  child.stdout!.on("data", (chunk: Buffer) => reader.push(chunk));
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString("utf8")).slice(-20_000);
  });
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(() => {
      killNow();
      reject(new Error(`trainer segment in ${runDir} still running after ${timeoutMs} ms; stderr:\n${stderr}`));
    }, timeoutMs);
    child.on("error", (err) => {
      clearTimeout(deadline);
      reject(new Error(`cannot start ${PYTHON}: ${err.message} (set HIMA_PYTHON to a Python with torch and hima)`));
    });
    child.on("close", (code, signal) => {
      running.delete(child);
      reader.end();
      clearTimeout(deadline);
      timers.forEach(clearTimeout);
      timers = [];
      resolve({ events, code, signal, stderr, noise });
    });
  });
}

/** Kills every segment still running (a failing test must not leave trainers behind). */
export function killRunningSegments(): void {
  for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
}
