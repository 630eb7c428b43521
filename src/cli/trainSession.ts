// One `hima train` trainer from launch to summary: a child (RunManager: the extension's DetachedRun shares its
// stop sequence and control checks) that also serves the run's control socket, so a panel can steer it; the
// progress bar; alerts (NaN loss, divergence, a stall) as lines above the bar; Ctrl-C as a graceful stop that
// says how to resume; and the summary. New runs and resumed ones (train.ts) both end here.
import type { RankMemoryView } from "../../common/messages";
import { rankMemoryView } from "../../common/rankMemory";
import type { EventOf } from "../../protocol/protocol.generated";
import { RunManager } from "../run/RunManager";
import { watchRunAlerts } from "../run/runAlerts";
import { controlSocketArgs } from "../run/trainerCommand";
import type { ProgressOutput } from "./progress";
import { ProgressBar } from "./progress";
import { formatSummary } from "./summary";

export interface CliIO {
  stdout: (text: string) => void;
  stderr: ProgressOutput;
  cwd: string;
  /** Registers the Ctrl-C / SIGTERM handler; returns its removal. */
  onInterrupt: (cb: () => void) => () => void;
  /** How the user runs this CLI (`node dist/cli.js`), for the commands it suggests. */
  invocation?: string;
}

export interface TrainSessionLaunch {
  command: string;
  /** The trainer's arguments, under torch.distributed.run when processes > 1; the control socket is added here. */
  args: string[];
  runId: string;
  runDir: string;
  processes: number;
}

/** A shell word for a path or argument the user may paste back (quoted only when it needs it). */
export function shellWord(s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export function resumeCommand(io: CliIO, runDir: string): string {
  return `${io.invocation ?? "node dist/cli.js"} train --resume ${shellWord(runDir)}`;
}

export async function runTrainSession(io: CliIO, launch: TrainSessionLaunch): Promise<number> {
  const { runId, runDir, processes } = launch;
  const args = [...launch.args, ...controlSocketArgs(runDir)];
  const started = Date.now();
  io.stderr.write(`hima: run ${runId} -> ${runDir}\nhima: starting ${launch.command} ${args.join(" ")}\n`);
  // HIMA_LAUNCHER_PID: the trainer stops (as on Ctrl-C) if this process dies without stopping it (SIGKILL,
  // a closed terminal); the extension's detached runs do not set it, they outlive the window.
  const env = { ...process.env, HIMA_LAUNCHER_PID: String(process.pid) };
  const run = RunManager.start({ command: launch.command, args, cwd: io.cwd, runId, runDir, newProcessGroup: true, env });

  const bar = new ProgressBar(io.stderr);
  let hello: EventOf<"hello"> | null = null;
  let done: EventOf<"done"> | null = null;
  let lastValLoss: number | null = null;
  let ranks: RankMemoryView | null = null;
  let ranksStep = -1;
  let fatalError: string | null = null;
  run.onEvent((e) => {
    bar.onEvent(e);
    if (e.type === "hello") hello = e;
    else if (e.type === "done") done = e;
    else if (e.type === "eval") lastValLoss = e.val_loss;
    else if (e.type === "memory" && e.ranks) {
      ranks = rankMemoryView(e.ranks, ranks, e.step !== ranksStep);
      ranksStep = e.step;
    } else if (e.type === "error") {
      if (e.fatal) fatalError = e.message;
      bar.log(`hima: trainer ${e.fatal ? "error" : "warning"}: ${e.message}`);
    }
  });
  run.onNoise((text, reason) => bar.log(`hima: skipped a stdout line (${reason}): ${text.slice(0, 120)}`));
  // A NaN loss also arrives as the trainer's error line above; the alert says what kind of trouble it is.
  const stopAlerts = watchRunAlerts(run, (a) => bar.log(`hima: alert (${a.kind.replace(/_/g, " ")}): ${a.message}`));

  let interrupts = 0;
  const removeInterrupt = io.onInterrupt(() => {
    interrupts++;
    if (interrupts === 1) {
      bar.log(
        `hima: stopping after this step (checkpoint, then done); Ctrl-C again to kill the trainer${processes > 1 ? " (every process)" : ""}\n` +
          `hima: to continue this run later: ${resumeCommand(io, runDir)}`,
      );
      void run.stop(); // the trainer gets STOP_GRACE_MS to finish its step, checkpoint and say `done`
    } else {
      bar.log("hima: killing the trainer");
      run.kill();
    }
  });
  const exit = await run.exited;
  removeInterrupt();
  stopAlerts();
  bar.finish();
  const d = done as EventOf<"done"> | null;
  const resume = d?.reason === "stopped" && d.summary.checkpoint ? resumeCommand(io, runDir) : null;
  io.stdout(`${formatSummary({ runId, runDir, hello, done, lastValLoss, processes, ranks, fatalError, exit, wallSeconds: (Date.now() - started) / 1000, resume })}\n`);
  return exit.crashed ? 1 : 0;
}
