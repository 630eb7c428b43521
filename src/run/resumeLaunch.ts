// The command that resumes a run in its own folder: `python -m hima train --resume <runDir> --out <runDir>`,
// under torch.distributed.run with as many processes as the run was launched with (config.json).
// The trainer takes the model, data and settings from the checkpoint and appends to the same events.jsonl,
// where a second hello (start_step > 0) marks the resume point.
import { join } from "node:path";
import { RUN_FOLDER } from "../../protocol/protocol.generated";
import type { DetachedLaunch } from "./DetachedRun";
import { readRunConfig } from "./RunStore";
import { launchArgs } from "./trainerCommand";
import { findLiveRun, latestCheckpoint, safeRunDir } from "./runDiscovery";
import { runFolderProblem } from "./runFolderCheck";

export function resumeArgs(runDir: string, runId: string): string[] {
  return ["-m", "hima", "train", "--resume", runDir, "--out", runDir, "--run-id", runId];
}

/** A resume launch, with the number of training processes the run was launched with (and resumes with). */
export type ResumeLaunch = DetachedLaunch & { processes: number };

/**
 * The launch that resumes run `runId` under runsDir with `python`. Throws, saying why, for an id that is not
 * a run folder name, a run folder with a symbolic link inside, a run without a checkpoint, or a run that is
 * still training.
 */
export async function resumeLaunch(runsDir: string, runId: string, python: string, cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<ResumeLaunch> {
  const runDir = safeRunDir(runsDir, runId);
  const problem = await runFolderProblem(runDir);
  if (problem) throw new Error(`run ${runId} cannot be resumed: ${problem}`);
  if (!(await latestCheckpoint(runDir))) throw new Error(`run ${runId} has no checkpoint to resume from (${join(runDir, RUN_FOLDER.checkpoints, "latest")} names no checkpoint file)`);
  if (await findLiveRun(runsDir, runId)) throw new Error(`run ${runId} is still training; open it instead`);
  const processes = (await readRunConfig(runDir))?.processes ?? 1; // runs recorded without it had one
  let args: string[];
  try {
    args = launchArgs(resumeArgs(runDir, runId), processes);
  } catch (e) {
    throw new Error(`run ${runId} cannot be resumed as recorded in its config.json: ${(e as Error).message}`);
  }
  return { command: python, args, cwd, env, runId, runDir, processes };
}
