// The detached trainer: launched in its own process group with no pipes, followed through events.jsonl,
// controlled through the Unix socket in its run folder (the fake trainer speaks the same contract).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Event } from "../../protocol/protocol.generated";
import { DetachedRun } from "../../src/run/DetachedRun";
import { applyLiveEvent } from "../../src/run/liveModel";
import { RunModel } from "../../src/run/RunModel";
import { readRunEvents } from "../../src/run/RunStore";
import { FAKE_TRAINER, REPO_ROOT, tempDir } from "../fixtures/runHelpers";
import { alive, launchFake, waitFor, waitGone } from "./detachedHelpers";

test("a detached run: events come from events.jsonl, set_cutoffs goes through the socket and is acked, stop ends it with done", async () => {
  const { run, events, runDir } = launchFake({ FAKE_STEP_MS: "20" }, ["--max-steps", "100000"]);
  try {
    await waitFor(run, (e) => e.type === "step" && e.step >= 2, 10_000, events);
    const record = JSON.parse(readFileSync(join(runDir, "trainer.json"), "utf8"));
    assert.equal(record.pid, run.trainerPid);
    assert.equal(run.attached, false);

    const id = run.sendControl({ type: "set_cutoffs", hot: 0.1, warm: 0.5 });
    const ack = await waitFor(run, (e) => e.type === "ack" && e.id === id, 5000);
    assert.equal(ack.type === "ack" && ack.control, "set_cutoffs");
    const tiers = await waitFor(run, (e) => e.type === "tiers" && ack.type === "ack" && e.step > ack.effective_step, 5000);
    assert.deepEqual(tiers.type === "tiers" && tiers.cutoffs, { hot: 0.1, warm: 0.5 });

    const exit = await run.stop(5000);
    assert.deepEqual({ code: exit.code, signal: exit.signal, crashed: exit.crashed, sawDone: exit.sawDone }, { code: 0, signal: null, crashed: false, sawDone: true });
    assert.equal(events.at(-1)?.type, "done");
    // What was delivered is exactly the log, in order.
    assert.deepEqual((await readRunEvents(runDir)).events, events);
    assert.match(readFileSync(join(runDir, "stderr.log"), "utf8"), /fake trainer: run run-1[\s\S]*trainer ended: exit code 0/);
  } finally {
    run.kill();
  }
});

test("a crashing detached trainer is reported as crashed, with the stderr tail read from stderr.log", async () => {
  const { run } = launchFake({ FAKE_STEP_MS: "10", FAKE_CRASH_AT: "3" }, ["--max-steps", "100"]);
  const exit = await run.exited;
  assert.equal(exit.code, 3);
  assert.equal(exit.crashed, true);
  assert.ok(exit.stderrTail.some((l) => l.includes("RuntimeError: fake crash at step 3")), exit.stderrTail.join("\n"));
});

test("a trainer that cannot be started is reported through exited, not thrown", async () => {
  const runDir = join(tempDir("hima-det-"), "r");
  mkdirSync(runDir);
  const run = DetachedRun.launch({ command: "/nonexistent/python3", args: [], cwd: runDir, runId: "r", runDir });
  const exit = await run.exited;
  assert.equal(exit.crashed, true);
  assert.match(exit.stderrTail.join("\n"), /failed to start "\/nonexistent\/python3"/);
});

test("stop escalates to SIGTERM when the trainer ignores the stop control (SIGTERM is a graceful stop)", async () => {
  const { run, events } = launchFake({ FAKE_STEP_MS: "20", FAKE_IGNORE_STOP: "1" }, ["--max-steps", "100000"]);
  try {
    await waitFor(run, (e) => e.type === "step", 10_000, events);
    const t0 = Date.now();
    const exit = await run.stop(300);
    assert.ok(Date.now() - t0 >= 250, "waited for the grace period");
    assert.equal(exit.sawDone, true);
    assert.equal(exit.code, 0);
  } finally {
    run.kill();
  }
});

test("a trainer that ignores stop and SIGTERM is SIGKILLed, as a process group", async () => {
  const { run, events } = launchFake({ FAKE_STEP_MS: "20", FAKE_IGNORE_STOP: "1", FAKE_IGNORE_SIGTERM: "1" }, ["--max-steps", "100000"]);
  try {
    await waitFor(run, (e) => e.type === "step", 10_000, events);
    const exit = await run.stop(100);
    assert.equal(exit.signal, "SIGKILL");
    assert.ok(exit.stderrTail.some((l) => l.includes("ignoring SIGTERM")), "SIGTERM came first");
    assert.equal(exit.crashed, true);
    assert.equal(alive(run.trainerPid!), false);
  } finally {
    run.kill();
  }
});

test("a run folder too deep for a socket path: controls go to the path the trainer names in control.path", async () => {
  const deep = join(tempDir("hima-det-"), "x".repeat(60), "y".repeat(60), "run-1");
  const { run, events, runDir } = launchFake({ FAKE_STEP_MS: "20" }, ["--max-steps", "100000"], deep);
  try {
    await waitFor(run, (e) => e.type === "step", 10_000, events);
    assert.ok(existsSync(join(runDir, "control.path")));
    const id = run.sendControl({ type: "pause" });
    await waitFor(run, (e) => e.type === "ack" && e.id === id, 5000, events);
    assert.equal((await run.stop(5000)).sawDone, true);
  } finally {
    run.kill();
  }
});

test("resume: the old log is replayed (flagged as replayed), the trainer continues from its checkpoint, the model shows one continuing run", async () => {
  const first = launchFake({ FAKE_STEP_MS: "10" }, ["--max-steps", "100000"]);
  let second: DetachedRun | null = null;
  try {
    await waitFor(first.run, (e) => e.type === "step" && e.step >= 5, 10_000, first.events);
    const stopped = await first.run.stop(5000);
    assert.equal(stopped.sawDone, true);
    const lastStep = Math.max(...first.events.map((e) => (e.type === "step" ? e.step : 0)));
    assert.ok(existsSync(join(first.runDir, "checkpoints", "latest")));

    second = DetachedRun.launch(
      { command: process.execPath, args: [FAKE_TRAINER, "--resume", first.runDir, "--out", first.runDir, "--run-id", "run-1", "--max-steps", "100000"], cwd: REPO_ROOT, env: { ...process.env, FAKE_STEP_MS: "10" }, runId: "run-1", runDir: first.runDir },
      { followPollMs: 50 },
    );
    const seen: Array<{ e: Event; replayed: boolean }> = [];
    const model = new RunModel();
    model.setStatus("starting");
    second.onEvent((e, replayed) => {
      seen.push({ e, replayed });
      applyLiveEvent(model, e, replayed);
    });
    const hello = await waitFor(second, (e) => e.type === "hello" && e.start_step > 0, 10_000);
    assert.equal(hello.type === "hello" && hello.start_step, lastStep);
    await waitFor(second, (e) => e.type === "step" && e.step > lastStep + 2, 10_000);
    const replayed = seen.filter((s) => s.replayed);
    assert.equal(replayed.length, first.events.length, "every old event, and only those, is flagged replayed");
    assert.ok(replayed.every((s, i) => JSON.stringify(s.e) === JSON.stringify(first.events[i])));
    const snap = model.snapshot();
    assert.equal(snap.run?.status, "running", "the old segment's done does not end the live run");
    assert.equal(snap.live, true);
    assert.ok((snap.run?.step ?? 0) > lastStep + 2);
    assert.equal(snap.charts.loss.x[0], 1, "the chart starts with the first segment's steps");
    const exit = await second.stop(5000);
    assert.equal(exit.sawDone, true, "the resumed trainer's own done counts, not the old one");
    assert.equal(exit.crashed, false);
  } finally {
    first.run.kill();
    second?.kill();
  }
});
