// Which runs under a runs folder are still training (a detached trainer, or a user's script with RunMonitor,
// to attach to) and which can be resumed (a checkpoint, no trainer); and whether a folder picked on disk is a
// run. Every run id goes through runDirFor, and a run folder that is a symbolic link leading out of the runs
// folder is refused, so nothing here reaches outside it.
import { promises as fs, lstatSync, realpathSync } from "node:fs";
import { basename, join, relative, resolve, isAbsolute } from "node:path";
import { isRunId } from "../../protocol/contract";
import { RUN_FOLDER } from "../../protocol/protocol.generated";
import { listRuns, readLogTail, runDirFor, type RunListing } from "./RunStore";
import { isTrainerOf, readTrainerRecord, type TrainerRecord } from "./TrainerRecord";
import { readRunFile, runFolderProblem } from "./runFolderCheck";

/** The checkpoint names the trainer writes (trainer/hima/app/checkpoint.py). */
const CHECKPOINT_NAME = /^ckpt-\d{8}\.pt$/;

export interface LiveRunInfo {
  id: string;
  dir: string;
  record: TrainerRecord;
}

/** The folder of run `runId`; throws for an id that is not a plain name or a folder that leads outside runsDir. */
export function safeRunDir(runsDir: string, runId: string): string {
  const dir = runDirFor(runsDir, runId);
  let st;
  try {
    st = lstatSync(dir);
  } catch {
    return dir; // not there (yet): a plain child of runsDir
  }
  if (st.isSymbolicLink()) {
    const inside = relative(realpathSync(runsDir), realpathSync(dir));
    if (inside === "" || inside.startsWith("..") || isAbsolute(inside)) throw new Error(`run folder ${JSON.stringify(runId)} is a link to outside the runs folder`);
  }
  return dir;
}

/** The trainer of run `runId` when it is still training, else null. */
export async function findLiveRun(runsDir: string, runId: string): Promise<LiveRunInfo | null> {
  return findLiveRunIn(safeRunDir(runsDir, runId), runId);
}

/** The writer of the run in folder `dir` (a folder opened by its path) when it is still writing, else null. */
export async function findLiveRunIn(dir: string, runId: string = basename(dir)): Promise<LiveRunInfo | null> {
  const record = await readTrainerRecord(dir);
  if (!record || !isTrainerOf(record.pid, dir, record.startedMs)) return null;
  if (await lastSegmentDone(dir)) return null; // finished; the process is on its way out
  return { id: runId, dir, record };
}

/** Runs whose trainer is still training, newest start first. */
export async function findLiveRuns(runsDir: string): Promise<LiveRunInfo[]> {
  const live: LiveRunInfo[] = [];
  for (const run of await listRuns(runsDir)) {
    const found = await findLiveRun(runsDir, run.id).catch(() => null);
    if (found) live.push(found);
  }
  return live.sort((a, b) => (b.record.startedMs ?? 0) - (a.record.startedMs ?? 0));
}

/** The checkpoint `checkpoints/latest` names, when it names an existing checkpoint file. */
export async function latestCheckpoint(runDir: string): Promise<string | null> {
  const folder = join(runDir, RUN_FOLDER.checkpoints);
  try {
    const name = (await readRunFile(join(folder, "latest"))).trim();
    if (!CHECKPOINT_NAME.test(name)) return null;
    const st = await fs.lstat(join(folder, name)); // a linked checkpoint is not offered (the trainer refuses it)
    return st.isFile() ? join(folder, name) : null;
  } catch {
    return null;
  }
}

export interface ResumableRun extends RunListing {
  checkpoint: string;
}

/** Runs with a checkpoint and no live trainer, newest first; `refused` (if given) collects why other runs
 * with a checkpoint are not offered (a symbolic link in the run folder). */
export async function resumableRuns(runsDir: string, refused: string[] = []): Promise<ResumableRun[]> {
  const out: ResumableRun[] = [];
  for (const run of await listRuns(runsDir)) {
    let dir: string;
    try {
      dir = safeRunDir(runsDir, run.id);
    } catch {
      continue;
    }
    const problem = await runFolderProblem(dir);
    if (problem) {
      refused.push(`${run.id}: ${problem}`);
      continue;
    }
    const checkpoint = await latestCheckpoint(dir);
    if (!checkpoint) continue;
    if (await findLiveRun(runsDir, run.id).catch(() => null)) continue;
    out.push({ ...run, dir, checkpoint });
  }
  return out;
}

/** Whether the log's last segment ended with `done` (a resumed run's earlier `done` does not count). */
export async function lastSegmentDone(runDir: string): Promise<boolean> {
  const file = join(runDir, RUN_FOLDER.events);
  const st = await fs.lstat(file).catch(() => null);
  return st?.isFile() ? (await readLogTail(file, st.size)).done : false;
}

/**
 * Why the folder a user picked (HiMA: Open Run Folder…) cannot be shown, or its run id: it must be a folder
 * with an event log (or a trainer record: a writer that has not logged yet), and no entry may be a symbolic
 * link (nothing outside the folder is read through it). A runs folder picked by mistake is named as such.
 * The id is the folder's name, or the record's run id when the name is not a valid one.
 */
export async function openableRunFolder(dir: string): Promise<{ id: string } | string> {
  const st = await fs.stat(dir).catch((e: NodeJS.ErrnoException) => e);
  if (st instanceof Error) return st.code === "ENOENT" ? `${dir} does not exist` : `${dir} cannot be read (${st.code ?? st.message})`;
  if (!st.isDirectory()) return `${dir} is not a folder`;
  const problem = await runFolderProblem(dir);
  if (problem) return problem;
  const entry = async (name: string) => (await fs.lstat(join(dir, name)).catch(() => null))?.isFile() ?? false;
  if (!(await entry(RUN_FOLDER.events)) && !(await entry(RUN_FOLDER.trainer_record))) {
    const runs = await listRuns(dir).catch(() => []);
    return runs.length > 0
      ? `${dir} is a folder of runs (${runs.length}), not a run: pick one of them, or add it to the setting hima.runsFolders`
      : `${dir} is not a run folder: it has no ${RUN_FOLDER.events}`;
  }
  const name = basename(resolve(dir));
  if (isRunId(name)) return { id: name };
  const record = await readTrainerRecord(dir);
  return { id: record?.runId && isRunId(record.runId) ? record.runId : "run" };
}
