// Which processes a stop signal reaches, for a trainer this process launched (RunManager, DetachedRun).
// One process: the trainer is the launched child. Several (hima.processes > 1): the child is torchrun's
// agent and every rank is its child in a session of its own (torch starts workers with start_new_session).
// SIGTERM to the agent makes it tear the ranks down and exit non-zero (SignalException) even though they
// stop cleanly, so the graceful SIGTERM goes to rank 0's trainer instead: it finishes the step, the ranks
// agree to stop at that boundary, and the agent exits 0 by itself. SIGKILL takes the launcher's group and
// each rank's own group: killing the agent alone would leave the ranks training.
import { childPids, isTrainerOf, leadsProcessGroup, parentPid, readTrainerRecordSync } from "./TrainerRecord";

/**
 * Where the graceful SIGTERM goes: rank 0's trainer when <runDir>/trainer.json names a child of the
 * launcher that is this run's trainer, else the launcher itself (one process, whose record names the
 * launcher; or a stop during start-up, before rank 0 wrote the file; or a stale record of an earlier
 * segment). Only Linux can tell a child from a stranger; elsewhere the launcher gets it.
 */
export function gracefulStopPid(launcherPid: number, runDir: string): number {
  const record = readTrainerRecordSync(runDir);
  if (record === null || record.pid === launcherPid) return launcherPid;
  if (parentPid(record.pid) !== launcherPid) return launcherPid;
  return isTrainerOf(record.pid, runDir, record.startedMs) ? record.pid : launcherPid;
}

/**
 * SIGKILL for a whole launch. `ownGroup`: the launcher was spawned detached, so it leads a process group
 * (its data loader workers are in it) that can go at once; otherwise that group is ours and only the
 * launcher's own processes are signalled.
 */
export function killLaunch(launcherPid: number, ownGroup: boolean): void {
  const children = childPids(launcherPid); // now: once the launcher dies they are re-parented
  safeKill(ownGroup ? -launcherPid : launcherPid, "SIGKILL");
  for (const pid of children) safeKill(leadsProcessGroup(pid) ? -pid : pid, "SIGKILL");
}

/** The stop ladder's signals for a launch: SIGTERM as gracefulStopPid says, SIGKILL as killLaunch does. */
export function signalLaunch(launcherPid: number, runDir: string, sig: "SIGTERM" | "SIGKILL", ownGroup: boolean): void {
  if (sig === "SIGKILL") killLaunch(launcherPid, ownGroup);
  else safeKill(gracefulStopPid(launcherPid, runDir), sig);
}

/** process.kill that ignores a process already gone. */
export function safeKill(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}
