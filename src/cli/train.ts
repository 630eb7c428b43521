// `hima train`: launches the trainer as a child (RunManager: the extension's DetachedRun shares its stop
// sequence and control checks) with the extension's command line (with --processes N, under torchrun like
// hima.processes), shows a progress bar, turns Ctrl-C into a graceful stop, and prints a summary. Returns
// the process exit code.
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type { RankMemoryView } from "../../common/messages";
import { rankMemoryView } from "../../common/rankMemory";
import type { EventOf } from "../../protocol/protocol.generated";
import { RunManager } from "../run/RunManager";
import { newRunId, runDirFor, writeRunConfig } from "../run/RunStore";
import { launchArgs, MAX_PROCESSES, trainerArgs } from "../run/trainerCommand";
import { fractionFlag, intFlag, parseFlags, UsageError } from "./args";
import { ProgressBar, type ProgressOutput } from "./progress";
import { formatSummary } from "./summary";

export const TRAIN_USAGE = `usage: hima train --data <dir> [--preset tiny|small|medium] [--config run.json] [--max-steps N]
                  [--method full|hima|random-static|hima-no-warm|hima-no-warm-cold|lisa] [--hot F] [--warm F] [--device auto|cpu|cuda]
                  [--init-from <checkpoint|run dir|state dict>] [--processes N] [--strategy replicated|fsdp2] [--runs-dir .hima/runs] [--python <python>]
                  --init-from: fine-tune from these weights (fresh optimizer, schedule and tiers)
                  --processes N: N training processes on this machine through torchrun (one per GPU; on CPU
                  they share the cores); the global batch must be a multiple of N
                  --strategy fsdp2: shard parameters, gradients and optimizer state over the processes (FSDP2)`;

const DATA_FILES = ["train.bin", "val.bin", "meta.json"];

export interface CliIO {
  stdout: (text: string) => void;
  stderr: ProgressOutput;
  cwd: string;
  /** Registers the Ctrl-C / SIGTERM handler; returns its removal. */
  onInterrupt: (cb: () => void) => () => void;
}

export function defaultPython(cwd: string): string {
  const venv = join(cwd, ".venv", "bin", "python");
  return existsSync(venv) ? venv : "python3";
}

export async function trainCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const args = parseFlags(argv, { values: ["preset", "config", "data", "runs-dir", "max-steps", "method", "hot", "warm", "python", "device", "processes", "init-from", "strategy"] });
  if (args.positional.length) throw new UsageError(`unexpected argument ${JSON.stringify(args.positional[0])}`);
  const data = args.values.get("data");
  if (!data) throw new UsageError("--data <dir> is required (a folder with train.bin, val.bin, meta.json; see `hima prepare`)");
  const dataDir = resolve(io.cwd, data);
  const missing = DATA_FILES.filter((f) => !existsSync(join(dataDir, f)));
  if (missing.length) throw new UsageError(`${dataDir} lacks ${missing.join(", ")}; prepare it first: node dist/cli.js prepare --source brown --out ${data}`);
  const configFile = args.values.get("config");
  if (configFile !== undefined && !existsSync(resolve(io.cwd, configFile))) throw new UsageError(`config file not found: ${configFile}`);
  const preset = args.values.get("preset") ?? (configFile === undefined ? "tiny" : undefined);
  const maxSteps = intFlag(args, "max-steps", 1);
  const method = args.values.get("method");
  const hot = fractionFlag(args, "hot");
  const warm = fractionFlag(args, "warm");
  const processes = intFlag(args, "processes", 1, MAX_PROCESSES) ?? 1;
  const runsDir = resolve(io.cwd, args.values.get("runs-dir") ?? ".hima/runs");
  const python = args.values.get("python") ?? defaultPython(io.cwd);
  const initFrom = args.values.get("init-from");
  if (initFrom !== undefined && !existsSync(resolve(io.cwd, initFrom))) throw new UsageError(`base weights not found: ${initFrom}`);
  const runId = newRunId();
  const runDir = runDirFor(runsDir, runId);
  let trainerArgv: string[];
  try {
    trainerArgv = launchArgs(trainerArgs({
      preset, configFile: configFile && resolve(io.cwd, configFile), dataDir, outDir: runDir, runId, maxSteps, method, hot, warm,
      device: args.values.get("device"), initFrom: initFrom && resolve(io.cwd, initFrom), strategy: args.values.get("strategy"),
    }), processes);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }

  await writeRunConfig(runDir, {
    runId, createdAt: new Date().toISOString(), command: python, args: trainerArgv, cwd: io.cwd, preset: preset ?? null,
    configFile: configFile ?? null, method: method ?? null, dataDir, maxSteps: maxSteps ?? null, processes,
    initFrom: initFrom ? resolve(io.cwd, initFrom) : null, launchedBy: "cli",
  });
  const started = Date.now();
  io.stderr.write(`hima: run ${runId} -> ${runDir}\nhima: starting ${python} ${trainerArgv.join(" ")}\n`);
  // HIMA_LAUNCHER_PID: the trainer stops (as on Ctrl-C) if this process dies without stopping it (SIGKILL,
  // a closed terminal); the extension's detached runs do not set it, they outlive the window.
  const env = { ...process.env, HIMA_LAUNCHER_PID: String(process.pid) };
  const run = RunManager.start({ command: python, args: trainerArgv, cwd: io.cwd, runId, runDir, newProcessGroup: true, env });

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

  let interrupts = 0;
  const removeInterrupt = io.onInterrupt(() => {
    interrupts++;
    if (interrupts === 1) {
      bar.log(`hima: stopping after this step (checkpoint, then done); Ctrl-C again to kill the trainer${processes > 1 ? " (every process)" : ""}`);
      void run.stop(); // the trainer gets STOP_GRACE_MS to finish its step, checkpoint and say `done`
    } else {
      bar.log("hima: killing the trainer");
      run.kill();
    }
  });
  const exit = await run.exited;
  removeInterrupt();
  bar.finish();
  io.stdout(`${formatSummary({ runId, runDir, hello, done, lastValLoss, processes, ranks, fatalError, exit, wallSeconds: (Date.now() - started) / 1000 })}\n`);
  return exit.crashed ? 1 : 0;
}
