// A run outlives the window that started it. Two independent processes play two extension hosts: the
// first launches the trainer and exits (a window reload); the second, a fresh plain Node process, finds
// the live run in the runs folder, replays its log, follows it, sends set_cutoffs and stops it.
// This file is both the test and (with HIMA_SURVIVE_ROLE set) the two "windows".
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Event } from "../../protocol/protocol.generated";
import { DetachedRun } from "../../src/run/DetachedRun";
import { applyLiveEvent } from "../../src/run/liveModel";
import { RunModel } from "../../src/run/RunModel";
import { readRunEvents } from "../../src/run/RunStore";
import { findLiveRuns } from "../../src/run/runDiscovery";
import { FAKE_TRAINER, REPO_ROOT, tempDir } from "../fixtures/runHelpers";
import { alive, sleep, waitFor, waitGone } from "./detachedHelpers";

const role = process.env.HIMA_SURVIVE_ROLE;
if (role === "launch") void launchWindow(process.env.HIMA_RUNS_DIR!);
else if (role === "attach") void attachWindow(process.env.HIMA_RUNS_DIR!);
else registerTests();

/** Window 1: starts a run and goes away without stopping it. */
async function launchWindow(runsDir: string): Promise<void> {
  const runDir = join(runsDir, "run-1");
  const run = DetachedRun.launch(
    { command: process.execPath, args: [FAKE_TRAINER, "--out", runDir, "--run-id", "run-1", "--max-steps", "100000"], cwd: REPO_ROOT, env: { ...process.env, FAKE_STEP_MS: "25" }, runId: "run-1", runDir },
    { followPollMs: 50 },
  );
  await waitFor(run, (e) => e.type === "step" && e.step >= 2, 10_000);
  process.stdout.write(`${JSON.stringify({ pid: run.trainerPid })}\n`);
  process.exit(0); // like an extension host torn down by a reload: no stop, no cleanup
}

/** Window 2: finds the live run, follows it, steers it and stops it. */
async function attachWindow(runsDir: string): Promise<void> {
  const live = await findLiveRuns(runsDir);
  if (live.length !== 1) throw new Error(`expected one live run, found ${live.length}`);
  const run = DetachedRun.attach(live[0].id, live[0].dir, live[0].record, { followPollMs: 50, livenessPollMs: 100 });
  const model = new RunModel();
  model.setStatus("starting");
  let replayed = 0;
  let followed = 0;
  run.onEvent((e, wasReplayed) => {
    applyLiveEvent(model, e, wasReplayed);
    if (wasReplayed) replayed++;
    else followed++;
  });
  const firstNewStep = (await waitFor(run, (e) => e.type === "step" && followed > 0, 10_000)) as Extract<Event, { type: "step" }>;
  const ackId = run.sendControl({ type: "set_cutoffs", hot: 0.15, warm: 0.45 });
  model.trackControl(ackId, { v: 1, id: ackId, type: "set_cutoffs", hot: 0.15, warm: 0.45 });
  const ack = await waitFor(run, (e) => e.type === "ack" && e.id === ackId, 5000);
  await waitFor(run, (e) => e.type === "tiers" && ack.type === "ack" && e.step > ack.effective_step, 5000);
  const whileLive = model.snapshot();
  const exit = await run.stop(5000);
  process.stdout.write(`${JSON.stringify({ id: run.runId, replayed, followed, firstNewStep: firstNewStep.step, ackId, whileLive: { status: whileLive.run?.status, live: whileLive.live, controls: whileLive.controls }, exit })}\n`);
  process.exit(0);
}

function runWindow(which: "launch" | "attach", runsDir: string): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [__filename], { env: { ...process.env, HIMA_SURVIVE_ROLE: which, HIMA_RUNS_DIR: runsDir }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

function registerTests(): void {
  test("a run started by one window survives it, and a fresh window attaches, follows, steers (set_cutoffs acked) and stops it", async () => {
    const runsDir = tempDir("hima-survive-");
    const first = await runWindow("launch", runsDir);
    assert.equal(first.code, 0, first.err);
    const { pid } = JSON.parse(first.out) as { pid: number };
    try {
      // The first window is gone; the trainer is not, and it keeps writing its log.
      assert.equal(alive(pid), true, "the trainer outlived the window that started it");
      const log = join(runsDir, "run-1", "events.jsonl");
      const size = statSync(log).size;
      await sleep(200);
      assert.ok(statSync(log).size > size, "and keeps training");

      const second = await runWindow("attach", runsDir);
      assert.equal(second.code, 0, second.err);
      const r = JSON.parse(second.out);
      assert.equal(r.id, "run-1");
      assert.ok(r.replayed > 5, "the log so far was replayed");
      assert.ok(r.followed > 0, "new events were followed");
      assert.deepEqual({ status: r.whileLive.status, live: r.whileLive.live }, { status: "running", live: true });
      assert.equal(r.whileLive.controls[0].state, "acked");
      assert.deepEqual({ sawDone: r.exit.sawDone, crashed: r.exit.crashed, unobserved: r.exit.unobserved }, { sawDone: true, crashed: false, unobserved: true });

      // The log tells the same story: the second window's control acked, the run stopped, the trainer gone.
      const { events, torn } = await readRunEvents(join(runsDir, "run-1"));
      assert.equal(torn, false);
      const ack = events.find((e) => e.type === "ack" && e.id === r.ackId);
      assert.ok(ack, "the ack is in the log");
      const tiersAfter = events.find((e) => e.type === "tiers" && ack.type === "ack" && e.step > ack.effective_step);
      assert.deepEqual(tiersAfter?.type === "tiers" && tiersAfter.cutoffs, { hot: 0.15, warm: 0.45 });
      const done = events.at(-1);
      assert.equal(done?.type === "done" && done.reason, "stopped");
      assert.equal(await waitGone(pid, 3000), true, "the trainer exited");
      assert.match(readFileSync(join(runsDir, "run-1", "stderr.log"), "utf8"), /fake trainer: run run-1/);
    } finally {
      await waitGone(pid, 0);
    }
  });

  test("after a reload, stop still ends a trainer that ignores the stop control (SIGTERM to the verified pid)", async () => {
    const runsDir = tempDir("hima-survive-");
    const runDir = join(runsDir, "run-1");
    const launched = DetachedRun.launch(
      { command: process.execPath, args: [FAKE_TRAINER, "--out", runDir, "--run-id", "run-1", "--max-steps", "100000"], cwd: REPO_ROOT, env: { ...process.env, FAKE_STEP_MS: "20", FAKE_IGNORE_STOP: "1" }, runId: "run-1", runDir },
      { followPollMs: 50 },
    );
    const pid = launched.trainerPid!;
    try {
      await waitFor(launched, (e) => e.type === "step", 10_000);
      launched.release(); // the window goes; the trainer stays
      await sleep(100);
      assert.equal(alive(pid), true);
      const [live] = await findLiveRuns(runsDir);
      assert.equal(live?.record.pid, pid);
      const attached = DetachedRun.attach(live.id, live.dir, live.record, { followPollMs: 50, livenessPollMs: 50 });
      const exit = await attached.stop(200);
      assert.equal(exit.sawDone, true, "SIGTERM made it stop gracefully");
      assert.equal(await waitGone(pid, 3000), true);
    } finally {
      await waitGone(pid, 0);
    }
  });
}
