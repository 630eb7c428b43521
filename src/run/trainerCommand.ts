// The trainer's command line (docs/architecture.md, "Trainer command line"), built in one place so the
// extension and the headless CLI launch the trainer the same way. Bad values throw before anything runs.
import { join } from "node:path";
import { METHODS, RUN_FOLDER, STRATEGIES } from "../../protocol/protocol.generated";
import { cutoffOrderProblem, isRunId } from "../../protocol/contract";

export interface TrainerArgsOptions {
  preset?: string;
  configFile?: string;
  dataDir: string;
  outDir: string;
  runId: string;
  maxSteps?: number;
  method?: string;
  hot?: number;
  warm?: number;
  device?: string;
  /** Base weights to start from (fine-tuning): a checkpoint, run folder or state-dict file. */
  initFrom?: string;
  /** How the ranks hold the model ($defs/Strategy): "replicated" (the trainer's default) or "fsdp2" (sharded). */
  strategy?: string;
}

const PRESET_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const DEVICE_PATTERN = /^(auto|cpu|cuda(:\d+)?|mps)$/;

/** Arguments after the Python executable: ["-m", "hima", "train", ...]. */
export function trainerArgs(o: TrainerArgsOptions): string[] {
  const args = ["-m", "hima", "train"];
  if (o.preset !== undefined) {
    if (!PRESET_PATTERN.test(o.preset)) throw new Error(`invalid preset name ${JSON.stringify(o.preset)}`);
    args.push("--preset", o.preset);
  }
  if (o.configFile !== undefined) {
    if (o.configFile === "") throw new Error("config file path is empty");
    args.push("--config", o.configFile);
  }
  if (!o.dataDir) throw new Error("a data directory is required (train.bin, val.bin, meta.json)");
  if (!o.outDir) throw new Error("an output directory is required");
  args.push("--data", o.dataDir, "--out", o.outDir);
  if (!isRunId(o.runId)) throw new Error(`invalid run id ${JSON.stringify(o.runId)}`);
  args.push("--run-id", o.runId);
  if (o.maxSteps !== undefined) {
    if (!Number.isInteger(o.maxSteps) || o.maxSteps < 1) throw new Error(`max steps must be a positive integer, got ${o.maxSteps}`);
    args.push("--max-steps", String(o.maxSteps));
  }
  if (o.method !== undefined) {
    if (!(METHODS as readonly string[]).includes(o.method)) throw new Error(`unknown method ${JSON.stringify(o.method)} (one of ${METHODS.join(", ")})`);
    args.push("--method", o.method);
  }
  for (const [name, value] of [["hot", o.hot], ["warm", o.warm]] as const) {
    if (value === undefined) continue;
    if (!Number.isFinite(value) || value < 0 || value > 1) throw new Error(`--${name} must be a fraction in [0, 1], got ${value}`);
    args.push(`--${name}`, String(value));
  }
  const order = o.hot !== undefined && o.warm !== undefined ? cutoffOrderProblem(o.hot, o.warm) : null;
  if (order) throw new Error(order);
  if (o.device !== undefined) {
    if (!DEVICE_PATTERN.test(o.device)) throw new Error(`invalid device ${JSON.stringify(o.device)} (auto, cpu, cuda, cuda:N)`);
    args.push("--device", o.device);
  }
  if (o.strategy !== undefined) {
    if (!(STRATEGIES as readonly string[]).includes(o.strategy)) throw new Error(`unknown strategy ${JSON.stringify(o.strategy)} (one of ${STRATEGIES.join(", ")})`);
    args.push("--strategy", o.strategy);
  }
  if (o.initFrom !== undefined) {
    if (o.initFrom === "") throw new Error("base weights path is empty");
    args.push("--init-from", o.initFrom);
  }
  return args;
}

/** Most processes one launch may ask for: one per GPU of a large host. */
export const MAX_PROCESSES = 64;

/**
 * Arguments after the Python executable for `processes` training processes. One process: `trainer` as is.
 * More: the same trainer under PyTorch's launcher on this host, `-m torch.distributed.run --standalone
 * --nproc-per-node N -m hima train ...` (torchrun without relying on a `torchrun` script on PATH; spawned
 * without a shell like any launch). Rank 0 writes the events and reads controls; the trainer slices the
 * global batch over the ranks.
 */
export function launchArgs(trainer: string[], processes: number): string[] {
  if (!Number.isInteger(processes) || processes < 1 || processes > MAX_PROCESSES) {
    throw new Error(`the number of processes must be an integer from 1 to ${MAX_PROCESSES}, got ${processes}`);
  }
  if (trainer[0] !== "-m" || trainer[1] !== "hima") throw new Error(`expected trainer arguments starting with "-m hima", got ${JSON.stringify(trainer.slice(0, 2))}`);
  if (processes === 1) return trainer.slice();
  return ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node", String(processes), ...trainer];
}

/**
 * `--control-socket <runDir>/control.sock`, appended to every launch (a detached one from the extension, a
 * CLI child): the trainer then serves controls through the run's socket, so a panel in any window can steer
 * it, whoever started it. (The trainer falls back to a shorter path, named in control.path, for deep folders.)
 */
export function controlSocketArgs(runDir: string): string[] {
  return ["--control-socket", join(runDir, RUN_FOLDER.control_socket)];
}
