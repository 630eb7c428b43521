// Reads what the trainer left in the workspace (.hima/runs/<id>/events.jsonl), so the journey can check the
// panel against the trainer's own record rather than against numbers the test made up.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { DoneEvent, HelloEvent, TiersEvent } from "../../protocol/protocol.generated";

export interface RunRecord {
  id: string;
  dir: string;
  /** Parsed complete lines (a torn last line, still being written, is left out). */
  events: Array<{ type: string } & Record<string, unknown>>;
  hello: HelloEvent | undefined;
  tiers: TiersEvent[];
  done: DoneEvent | undefined;
  /** Lines that are not JSON (other than a torn last line). */
  badLines: number;
}

export function runIds(runsDir: string): string[] {
  if (!existsSync(runsDir)) return [];
  return readdirSync(runsDir).filter((d) => statSync(join(runsDir, d)).isDirectory());
}

export function readRun(runsDir: string, id: string): RunRecord {
  const dir = join(runsDir, id);
  const file = join(dir, "events.jsonl");
  const text = existsSync(file) ? readFileSync(file, "utf8") : "";
  const lines = text.split("\n");
  const complete = text.endsWith("\n") ? lines.slice(0, -1) : lines.slice(0, -1); // last piece is "" or torn
  const events: RunRecord["events"] = [];
  let badLines = 0;
  for (const line of complete) {
    if (!line.trim()) continue;
    try {
      events.push(JSON.parse(line));
    } catch {
      badLines++;
    }
  }
  return {
    id,
    dir,
    events,
    hello: events.find((e) => e.type === "hello") as HelloEvent | undefined,
    tiers: events.filter((e) => e.type === "tiers") as unknown as TiersEvent[],
    done: events.find((e) => e.type === "done") as DoneEvent | undefined,
    badLines,
  };
}

/** The pid in <runDir>/trainer.json (written by the trainer at start), or undefined. */
export function trainerPid(runDir: string): number | undefined {
  try {
    const pid = (JSON.parse(readFileSync(join(runDir, "trainer.json"), "utf8")) as { pid?: unknown }).pid;
    return typeof pid === "number" && Number.isSafeInteger(pid) && pid > 1 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `pid` is alive and its command line names `runDir` (so it is that run's trainer, not a reused pid). */
export function isTrainerOf(pid: number, runDir: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    if (/\) [ZX] /.test(stat)) return false; // a zombie has finished
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").some((arg) => arg === runDir || arg.startsWith(`${runDir}/`));
  } catch {
    return false;
  }
}

/**
 * SIGKILLs every trainer still running for a run under runsDir. Trainers are detached from code-server (they
 * outlive the window on purpose), so stopping code-server does not end them: a story that failed half-way
 * must not leave one training. Returns the run ids whose trainer was killed.
 */
export function killLeftoverTrainers(runsDir: string): string[] {
  const killed: string[] = [];
  for (const id of runIds(runsDir)) {
    const dir = join(runsDir, id);
    const pid = trainerPid(dir);
    if (pid === undefined || !isTrainerOf(pid, dir)) continue;
    try {
      process.kill(-pid, "SIGKILL"); // a detached trainer leads its own process group (data workers too)
    } catch {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        continue;
      }
    }
    killed.push(id);
  }
  return killed;
}
