// `hima train`: flags -> the trainer's command line (the extension's, src/run/trainerCommand.ts; with
// --processes N under torchrun like hima.processes), checked by the trainer itself (`--check`) before the run
// folder is made, then run by trainSession.ts. `--resume RUN_DIR` continues a stopped run in its own folder
// with the extension's Resume command line (src/run/resumeLaunch.ts). Returns the process exit code.
import { existsSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { checkTrainerConfig } from "../run/configCheck";
import { resumeLaunch } from "../run/resumeLaunch";
import { newRunId, runDirFor, writeRunConfig } from "../run/RunStore";
import { launchArgs, MAX_PROCESSES, trainerArgs } from "../run/trainerCommand";
import { fractionFlag, intFlag, parseFlags, UsageError, type ParsedArgs } from "./args";
import { runTrainSession, type CliIO } from "./trainSession";

export type { CliIO } from "./trainSession";

export const TRAIN_USAGE = `usage: hima train --data <dir> [--preset tiny|small|medium] [--config run.json] [--max-steps N]
                  [--method full|hima|random-static|hima-no-warm|hima-no-warm-cold|lisa] [--hot F] [--warm F] [--device auto|cpu|cuda]
                  [--init-from <checkpoint|run dir|state dict>] [--processes N] [--strategy replicated|fsdp2] [--runs-dir .hima/runs] [--python <python>]
       hima train --resume <run dir> [--max-steps N] [--python <python>]
                  --init-from: fine-tune from these weights (fresh optimizer, schedule and tiers)
                  --processes N: N training processes on this machine through torchrun (one per GPU; on CPU
                  they share the cores); the global batch must be a multiple of N
                  --strategy fsdp2: shard parameters, gradients and optimizer state over the processes (FSDP2)
                  --resume: continue a stopped run from its latest checkpoint, in its folder, with its own
                  settings (--max-steps may raise its length); Ctrl-C prints this command for the run it stops
                  The trainer checks the configuration first: a refusal exits 2 and leaves no run folder.
                  The run serves <run dir>/control.sock: the VS Code panel can steer it like a run it started.
                  Alerts (NaN/Inf loss, divergence, a stalled run) are printed as "hima: alert" lines.`;

const DATA_FILES = ["train.bin", "val.bin", "meta.json"];
const FLAGS = ["preset", "config", "data", "runs-dir", "max-steps", "method", "hot", "warm", "python", "device", "processes", "init-from", "strategy", "resume"];
/** What --resume may be given with: the rest is the run's own (its checkpoint and config.json). */
const RESUME_FLAGS = new Set(["resume", "max-steps", "python"]);

export function defaultPython(cwd: string): string {
  const venv = join(cwd, ".venv", "bin", "python");
  return existsSync(venv) ? venv : "python3";
}

export async function trainCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const args = parseFlags(argv, { values: FLAGS });
  if (args.positional.length) throw new UsageError(`unexpected argument ${JSON.stringify(args.positional[0])}`);
  return args.values.has("resume") ? resumeCommand(args, io) : newRunCommand(args, io);
}

async function resumeCommand(args: ParsedArgs, io: CliIO): Promise<number> {
  const other = [...args.values.keys()].find((k) => !RESUME_FLAGS.has(k));
  if (other) throw new UsageError(`--${other} cannot be given with --resume: a resumed run keeps its own settings (only --max-steps and --python may be given)`);
  const runDir = resolve(io.cwd, args.values.get("resume")!);
  if (!existsSync(runDir)) throw new UsageError(`--resume: no run folder ${runDir}`);
  const maxSteps = intFlag(args, "max-steps", 1);
  const python = args.values.get("python") ?? defaultPython(io.cwd);
  let launch;
  try {
    launch = await resumeLaunch(dirname(runDir), basename(runDir), python, io.cwd);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  // The trainer's own flags come last under torchrun too, so an added --max-steps reaches `hima train`.
  const trainer = maxSteps === undefined ? launch.args : [...launch.args, "--max-steps", String(maxSteps)];
  return runTrainSession(io, { command: python, args: trainer, runId: launch.runId, runDir: launch.runDir, processes: launch.processes });
}

async function newRunCommand(args: ParsedArgs, io: CliIO): Promise<number> {
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
  let trainer: string[];
  let trainerArgv: string[];
  try {
    trainer = trainerArgs({
      preset, configFile: configFile && resolve(io.cwd, configFile), dataDir, outDir: runDir, runId, maxSteps, method, hot, warm,
      device: args.values.get("device"), initFrom: initFrom && resolve(io.cwd, initFrom), strategy: args.values.get("strategy"),
    });
    trainerArgv = launchArgs(trainer, processes);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  // The trainer's own checks (config file keys and values, preset, cutoffs, data, HiMA settings), before the
  // run folder exists: a refusal leaves nothing in the runs folder.
  const check = await checkTrainerConfig({ command: python, args: trainer, cwd: io.cwd });
  if (check.kind === "refused") {
    io.stderr.write(`hima: ${check.problem}\nhima: no run was started (nothing written to ${runsDir})\n`);
    return 2;
  }
  if (check.kind === "inconclusive") io.stderr.write(`hima: ${check.detail}; starting the trainer anyway\n`);

  await writeRunConfig(runDir, {
    runId, createdAt: new Date().toISOString(), command: python, args: trainerArgv, cwd: io.cwd, preset: preset ?? null,
    configFile: configFile ?? null, method: method ?? null, dataDir, maxSteps: maxSteps ?? null, processes,
    initFrom: initFrom ? resolve(io.cwd, initFrom) : null, launchedBy: "cli",
  });
  return runTrainSession(io, { command: python, args: trainerArgv, runId, runDir, processes });
}
