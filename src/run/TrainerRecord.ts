// <runDir>/trainer.json, written at start by what writes the run (the trainer, rank 0 under torchrun, or a
// user's own loop through hima.monitor.RunMonitor: {pid, started, run_id, control_socket, argv, writer}), and
// the question "is that pid still this run's writer?" (with the /proc facts it needs: parent, children,
// process group). The file is input from disk like any other: a pid that is not a plain positive number, or a
// process that is not the writer of this run folder (the pid was reused, or the file was planted), is never
// signalled or attached to.
import { lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { RUN_FOLDER, type TrainerRecord as ProtocolTrainerRecord } from "../../protocol/protocol.generated";
import { readRunFile, readRunFileSync } from "./runFolderCheck";
import { validateDefinition } from "./validateEvent";

export interface TrainerRecord {
  pid: number;
  /** When the trainer started, in ms since the epoch; null when the file does not say. */
  startedMs: number | null;
  runId: string | null;
  controlSocket: string | null;
  argv: string[];
  /** "monitor": a user's own loop (hima.monitor.RunMonitor); "trainer": python -m hima train. */
  writer: "trainer" | "monitor";
}

/** The trainer record of a run folder, or null when there is none or it is not usable. */
export async function readTrainerRecord(runDir: string): Promise<TrainerRecord | null> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readRunFile(join(runDir, RUN_FOLDER.trainer_record)));
  } catch {
    return null;
  }
  return parseTrainerRecord(raw);
}

/** The same, read synchronously: for a signal that must go out now (a stop timer, an exit hook). */
export function readTrainerRecordSync(runDir: string): TrainerRecord | null {
  try {
    return parseTrainerRecord(JSON.parse(readRunFileSync(join(runDir, RUN_FOLDER.trainer_record))));
  } catch {
    return null;
  }
}

/** A trainer record as read ($defs/TrainerRecord in the protocol schema), or null when it is not one. */
export function parseTrainerRecord(raw: unknown): TrainerRecord | null {
  // Signals go to this pid: 0, 1, negative (process groups, "everyone") or our own would be disastrous.
  if (validateDefinition(raw, "TrainerRecord", "trainer record") !== null) return null;
  const r = raw as ProtocolTrainerRecord;
  if (r.pid === process.pid) return null;
  return {
    pid: r.pid,
    startedMs: parseStarted(r.started),
    runId: r.run_id ?? null,
    controlSocket: r.control_socket || null,
    argv: r.argv ?? [],
    writer: r.writer ?? "trainer",
  };
}

/** ISO text, or seconds (Python's time.time()) / milliseconds since the epoch. */
function parseStarted(value: unknown): number | null {
  if (typeof value === "string") {
    const ms = Date.parse(value);
    return Number.isFinite(ms) ? ms : null;
  }
  if (typeof value === "number" && Number.isFinite(value) && value > 0) return value < 1e11 ? value * 1000 : value;
  return null;
}

/** Whether a process with this pid exists and we may signal it. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return false; // ESRCH: gone; EPERM: someone else's process, not a trainer we started
  }
}

/**
 * Whether `pid` is alive and is the writer of `runDir`: on Linux it holds the run folder's trainer.lock open
 * (the trainer and RunMonitor keep it open, locked, until they exit; a user's script need not name the run
 * folder on its command line) or its command line names the run folder (resolved against the process's
 * working directory), it is not a zombie, and it did not start after the trainer record was written (a
 * reused pid starts later). Elsewhere only liveness can be checked.
 */
export function isTrainerOf(pid: number, runDir: string, startedMs: number | null = null): boolean {
  if (!Number.isSafeInteger(pid) || pid < 2 || pid === process.pid || !pidAlive(pid)) return false;
  if (process.platform !== "linux") return true;
  const proc = readProcStat(pid);
  if (!proc || proc.state === "Z" || proc.state === "X") return false;
  if (startedMs !== null && proc.startedMs !== null && proc.startedMs > startedMs + START_SLACK_MS) return false;
  return holdsRunLock(pid, runDir) || commandLineNames(pid, runDir);
}

/** Whether `pid` leads its own process group (a trainer started detached does), so the group can be signalled. */
export function leadsProcessGroup(pid: number): boolean {
  if (process.platform !== "linux") return false;
  return readProcStat(pid)?.pgrp === pid;
}

/** The parent of `pid` (Linux), or null when it cannot be read. */
export function parentPid(pid: number): number | null {
  return readProcStat(pid)?.ppid ?? null;
}

/** The live children of `pid` (Linux; empty elsewhere): a launcher's ranks, a trainer's data loader workers. */
export function childPids(pid: number): number[] {
  if (process.platform !== "linux") return [];
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [];
  }
  return entries.filter((e) => /^\d+$/.test(e) && readProcStat(Number(e))?.ppid === pid).map(Number);
}

/** Clock ticks per second of /proc/<pid>/stat start times (USER_HZ, 100 on every Linux we know). */
const USER_HZ = 100;
/** Boot time is whole seconds and the record is written after start: allow for the rounding. */
const START_SLACK_MS = 2000;

function readProcStat(pid: number): { state: string; ppid: number; pgrp: number; startedMs: number | null } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // The command name (field 2) is in parentheses and may contain spaces or ')': split after the last ')'.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const state = fields[0];
  const ppid = Number(fields[1]);
  const pgrp = Number(fields[2]);
  const startTicks = Number(fields[19]);
  const boot = bootTimeMs();
  const startedMs = boot !== null && Number.isFinite(startTicks) ? boot + (startTicks / USER_HZ) * 1000 : null;
  return { state, ppid, pgrp, startedMs };
}

let bootMs: number | null | undefined;
function bootTimeMs(): number | null {
  if (bootMs !== undefined) return bootMs;
  try {
    const m = /^btime (\d+)$/m.exec(readFileSync("/proc/stat", "utf8"));
    bootMs = m ? Number(m[1]) * 1000 : null;
  } catch {
    bootMs = null;
  }
  return bootMs;
}

/** Whether one of `pid`'s open files is `runDir`'s trainer.lock (the same file: device and inode, not a name). */
function holdsRunLock(pid: number, runDir: string): boolean {
  let lock;
  let fds: string[];
  try {
    lock = lstatSync(join(runDir, RUN_FOLDER.trainer_lock));
    if (!lock.isFile()) return false; // a link or anything else is never the lock the writer holds
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false; // no lock file, or not our process (its fds are not readable)
  }
  return fds.some((fd) => {
    try {
      const st = statSync(`/proc/${pid}/fd/${fd}`);
      return st.dev === lock.dev && st.ino === lock.ino;
    } catch {
      return false; // closed meanwhile
    }
  });
}

function commandLineNames(pid: number, runDir: string): boolean {
  let args: string[];
  let cwd: string;
  try {
    args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
    cwd = readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return false;
  }
  const wanted = new Set([resolve(runDir)]);
  try {
    wanted.add(realpathSync(runDir));
  } catch {
    // the folder is gone: only its name can match
  }
  return args.some((a) => {
    const p = resolve(cwd, a);
    return wanted.has(p) || wanted.has(resolve(p, "..")); // --out <dir>, or a file in it (--control-socket <dir>/control.sock)
  });
}
