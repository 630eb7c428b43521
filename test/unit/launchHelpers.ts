// Helpers for the launch-signal tests: the processes of a launch, and waiting for them to end without
// leaving any behind when a test fails.
import { readdirSync, readFileSync } from "node:fs";
import { readTrainerRecord } from "../../src/run/TrainerRecord";
import { sleep } from "./detachedHelpers";

/** Rank 0's pid from trainer.json, once the trainer has written it. */
export async function rank0Pid(runDir: string, timeoutMs = 10_000): Promise<number> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const record = await readTrainerRecord(runDir);
    if (record) return record.pid;
    await sleep(20);
  }
  throw new Error(`no trainer.json in ${runDir} within ${timeoutMs} ms`);
}

/** Whether `pid` is a running process (a zombie waiting for its parent to reap it has ended). */
export function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^[ZX]$/.test(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0]);
  } catch {
    return false;
  }
}

/** Running processes whose command line names `runDir` (Linux): a launcher and its ranks all do. */
export function processesNaming(runDir: string): number[] {
  return readdirSync("/proc")
    .filter((e) => /^\d+$/.test(e) && Number(e) !== process.pid)
    .filter((e) => {
      try {
        return readFileSync(`/proc/${e}/cmdline`, "utf8").split("\0").includes(runDir);
      } catch {
        return false;
      }
    })
    .map(Number)
    .filter(running);
}

/** Waits until none of `pids` runs; SIGKILLs what is left after timeoutMs so no test leaves a process behind. */
export async function allGone(pids: number[], timeoutMs = 5000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (!pids.some(running)) return true;
    await sleep(20);
  }
  for (const pid of pids.filter(running)) process.kill(pid, "SIGKILL");
  return false;
}

/** `promise`, or a failure naming what did not happen within `ms` (instead of a test that hangs). */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
