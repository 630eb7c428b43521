// Helpers for the detached-run tests: launching the fake trainer detached and waiting on a TrainerHandle.
import { join } from "node:path";
import type { Event } from "../../protocol/protocol.generated";
import { DetachedRun, type DetachedRunOptions } from "../../src/run/DetachedRun";
import type { TrainerHandle } from "../../src/run/TrainerHandle";
import { FAKE_TRAINER, REPO_ROOT, tempDir } from "../fixtures/runHelpers";

export interface FakeRun {
  run: DetachedRun;
  events: Event[];
  runDir: string;
}

/** Launches the fake trainer detached into runDir (a new temp folder by default). */
export function launchFake(env: Record<string, string> = {}, args: string[] = [], runDir = join(tempDir("hima-det-"), "run-1"), opts: DetachedRunOptions = {}): FakeRun {
  const run = DetachedRun.launch(
    { command: process.execPath, args: [FAKE_TRAINER, "--out", runDir, "--run-id", "run-1", ...args], cwd: REPO_ROOT, env: { ...process.env, ...env }, runId: "run-1", runDir },
    { followPollMs: 50, livenessPollMs: 100, termGraceMs: 500, ...opts },
  );
  const events: Event[] = [];
  run.onEvent((e) => events.push(e));
  return { run, events, runDir };
}

/** Resolves with the first event matching `match` (also one already in `seen`); rejects on exit or timeout. */
export function waitFor(run: TrainerHandle, match: (e: Event, replayed: boolean) => boolean, timeoutMs: number, seen: Event[] = []): Promise<Event> {
  const already = seen.find((e) => match(e, false));
  if (already) return Promise.resolve(already);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      offExit();
      reject(new Error(`no matching event within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = run.onEvent((e, replayed) => {
      if (!match(e, replayed)) return;
      clearTimeout(timer);
      off();
      offExit();
      resolve(e);
    });
    const offExit = run.onExit((exit) => {
      clearTimeout(timer);
      off();
      reject(new Error(`trainer ended (${JSON.stringify(exit)}) before the event`));
    });
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether a process exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits until `pid` is gone (SIGKILLs it after timeoutMs so no test leaves a trainer behind). */
export async function waitGone(pid: number, timeoutMs = 5000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (!alive(pid)) return true;
    await sleep(20);
  }
  try {
    process.kill(pid, "SIGKILL");
  } catch {}
  return false;
}
