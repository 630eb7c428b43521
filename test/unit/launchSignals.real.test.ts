// A real 2-process run through torchrun (gloo on CPU), launched the way the extension launches it with
// hima.processes = 2: the graceful SIGTERM of the stop ladder must end it as a clean stop (every rank
// stops at one step, torchrun exits 0, done says "stopped"), and SIGKILL must leave no rank behind.
// Skipped, with the reason, when the trainer or torch.distributed cannot be imported.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Event } from "../../protocol/protocol.generated";
import { DetachedRun } from "../../src/run/DetachedRun";
import { gracefulStopPid, signalLaunch } from "../../src/run/launchSignals";
import { launchArgs, trainerArgs } from "../../src/run/trainerCommand";
import { childPids } from "../../src/run/TrainerRecord";
import { REPO_ROOT, tempDir, writeSyntheticTokens } from "../fixtures/runHelpers";
import { waitFor } from "./detachedHelpers";
import { allGone, processesNaming, rank0Pid, within } from "./launchHelpers";

const python = existsSync(join(REPO_ROOT, ".venv/bin/python")) ? join(REPO_ROOT, ".venv/bin/python") : "python3";
const probe = spawnSync(python, ["-c", "import hima.app.train, torch.distributed.run"], { encoding: "utf8" });
const skip =
  process.platform !== "linux" ? "needs /proc to find the ranks"
  : probe.status === 0 ? false
  : `the trainer or torch.distributed is not importable (${python}: ${(probe.stderr || probe.error?.message || "").trim().split("\n").at(-1)})`;

/** Starts a 2-process tiny run and waits for its first step; returns the launcher's and the ranks' pids. */
async function startTwoRanks(runId: string): Promise<{ run: DetachedRun; runDir: string; events: Event[]; launcher: number; ranks: number[] }> {
  const dataDir = writeSyntheticTokens(tempDir());
  const runDir = join(tempDir("hima-torchrun-"), runId);
  const args = launchArgs(trainerArgs({ preset: "tiny", dataDir, outDir: runDir, runId, maxSteps: 5000, device: "cpu" }), 2);
  const run = DetachedRun.launch({ command: python, args, cwd: REPO_ROOT, env: { ...process.env, HIMA_THREADS: "1" }, runId, runDir }, { followPollMs: 100 });
  const events: Event[] = [];
  run.onEvent((e) => events.push(e));
  try {
    await waitFor(run, (e) => e.type === "step", 60_000, events);
  } catch (e) {
    run.kill();
    throw new Error(`${(e as Error).message}; stderr.log:\n${readFileSync(join(runDir, "stderr.log"), "utf8").slice(-3000)}`);
  }
  const launcher = run.trainerPid!;
  return { run, runDir, events, launcher, ranks: childPids(launcher) };
}

test("torchrun, 2 ranks: the stop ladder's SIGTERM goes to rank 0; every rank stops cleanly and torchrun exits 0", { skip, timeout: 90_000 }, async () => {
  const { run, runDir, events, launcher, ranks } = await startTwoRanks("two-stop");
  try {
    assert.equal(ranks.length, 2, `torchrun's children are the two ranks: ${ranks}`);
    const rank0 = await rank0Pid(runDir);
    assert.ok(ranks.includes(rank0), "trainer.json names one of the ranks");
    assert.equal(gracefulStopPid(launcher, runDir), rank0);

    signalLaunch(launcher, runDir, "SIGTERM", true); // what stop() sends once its grace period is over
    const exit = await within(run.exited, 30_000, "the end of the run after SIGTERM").catch((e: Error) => {
      // A hang here, after rank 0's checkpoint event, is rank 0 leaving the loop alone: it took the signal
      // after the stop agreement instead of carrying it to the next boundary.
      const last = events.slice(-3).map((ev) => `${ev.type}@${"step" in ev ? ev.step : "?"}`).join(", ");
      throw new Error(`${e.message}; last events: ${last}; stderr.log:\n${readFileSync(join(runDir, "stderr.log"), "utf8").slice(-2000)}`);
    });
    const stderr = readFileSync(join(runDir, "stderr.log"), "utf8");
    assert.deepEqual({ code: exit.code, signal: exit.signal, crashed: exit.crashed, sawDone: exit.sawDone }, { code: 0, signal: null, crashed: false, sawDone: true }, stderr.slice(-3000));
    const done = events.filter((e) => e.type === "done");
    assert.equal(done.length, 1);
    assert.equal(done[0].type === "done" && done[0].reason, "stopped");
    assert.match(stderr, /signal 15: stopping after this step/, "rank 0 got the SIGTERM");
    assert.doesNotMatch(stderr, /SignalException/, "torchrun itself was not signalled");
    assert.equal((stderr.match(/done \(stopped\) at step \d+/g) ?? []).length, 2, "both ranks stopped");
    assert.deepEqual(processesNaming(runDir), [], "no process of the run is left");
  } finally {
    run.kill();
    await allGone([launcher, ...ranks], 0);
  }
});

test("torchrun, 2 ranks: kill() ends torchrun and both ranks (each in a session of its own)", { skip, timeout: 90_000 }, async () => {
  const { run, runDir, launcher, ranks } = await startTwoRanks("two-kill");
  try {
    assert.equal(ranks.length, 2, `torchrun's children are the two ranks: ${ranks}`);
    run.kill();
    const exit = await within(run.exited, 10_000, "the end of the run after kill()");
    assert.equal(exit.signal, "SIGKILL");
    assert.ok(await allGone(ranks, 5000), "no rank outlived torchrun");
    assert.deepEqual(processesNaming(runDir), [], "no process of the run is left");
  } finally {
    await allGone([launcher, ...ranks], 0);
  }
});
