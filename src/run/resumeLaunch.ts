// The command that resumes a run in its own folder: `python -m hima train --resume <runDir> --out <runDir>`.
// The trainer takes the model, data and settings from the checkpoint and appends to the same events.jsonl,
// where a second hello (start_step > 0) marks the resume point.
import { join } from "node:path";
import type { DetachedLaunch } from "./DetachedRun";
import { findLiveRun, latestCheckpoint, safeRunDir } from "./runDiscovery";

export function resumeArgs(runDir: string, runId: string): string[] {
  return ["-m", "hima", "train", "--resume", runDir, "--out", runDir, "--run-id", runId];
}

/**
 * The launch that resumes run `runId` under runsDir with `python`. Throws, saying why, for an id that is not
 * a run folder name, a run without a checkpoint, or a run that is still training.
 */
export async function resumeLaunch(runsDir: string, runId: string, python: string, cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<DetachedLaunch> {
  const runDir = safeRunDir(runsDir, runId);
  if (!(await latestCheckpoint(runDir))) throw new Error(`run ${runId} has no checkpoint to resume from (${join(runDir, "checkpoints", "latest")} names no checkpoint file)`);
  if (await findLiveRun(runsDir, runId)) throw new Error(`run ${runId} is still training; open it instead`);
  return { command: python, args: resumeArgs(runDir, runId), cwd, env, runId, runDir };
}
