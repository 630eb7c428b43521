// The run manager against real child processes: the scripted fake trainer (fast, every failure mode) and
// the real Python trainer on the tiny preset (skipped, with the reason, until `hima.app.train` imports).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Event } from "../../protocol/protocol.generated";
import { RunManager } from "../../src/run/RunManager";
import type { TrainerLaunch } from "../../src/run/TrainerHandle";
import { readRunEvents } from "../../src/run/RunStore";
import { trainerArgs } from "../../src/run/trainerCommand";
import { FAKE_TRAINER, REPO_ROOT, ofType, tempDir, waitForEvent, writeSyntheticTokens } from "../fixtures/runHelpers";

function startFake(env: Record<string, string> = {}, args: string[] = []): { run: RunManager; events: Event[]; runDir: string } {
  const runDir = tempDir();
  const launch: TrainerLaunch = {
    command: process.execPath,
    args: [FAKE_TRAINER, "--out", runDir, "--run-id", "fake-1", ...args],
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    runId: "fake-1",
    runDir,
  };
  const run = RunManager.start(launch);
  const events: Event[] = [];
  run.onEvent((e) => events.push(e));
  return { run, events, runDir };
}

test("fake trainer: hello -> steps -> tiers -> set_cutoffs acked -> stop -> done, exit 0", async () => {
  const { run, events, runDir } = startFake({ FAKE_STEP_MS: "30" }, ["--max-steps", "1000"]);
  try {
    const hello = await waitForEvent(run, ofType("hello"), 5000, events);
    assert.equal(hello.tensors.length, 15);
    await waitForEvent(run, (e) => e.type === "step" && e.step >= 2, 5000, events);
    assert.ok(events.some((e) => e.type === "tiers"));

    const id = run.sendControl({ type: "set_cutoffs", hot: 0.1, warm: 0.5 });
    const ack = await waitForEvent(run, (e): e is Extract<Event, { type: "ack" }> => e.type === "ack" && e.id === id, 5000);
    assert.equal(ack.control, "set_cutoffs");
    assert.ok(ack.effective_step >= 2);
    const tiersAfter = await waitForEvent(run, (e): e is Extract<Event, { type: "tiers" }> => e.type === "tiers" && e.step > ack.effective_step, 5000);
    assert.deepEqual(tiersAfter.cutoffs, { hot: 0.1, warm: 0.5 });

    const exit = await run.stop(5000);
    assert.deepEqual({ code: exit.code, signal: exit.signal, crashed: exit.crashed, sawDone: exit.sawDone }, { code: 0, signal: null, crashed: false, sawDone: true });
    const done = events.at(-1);
    assert.equal(done?.type, "done");
    assert.equal(done?.type === "done" && done.reason, "stopped");
    assert.ok(done?.type === "done" && done.step < 1000, "stopped long before max steps");

    // What the trainer wrote to events.jsonl is what the manager delivered live.
    const stored = await readRunEvents(runDir);
    assert.deepEqual(stored.events, events);
    assert.equal(stored.torn, false);
    assert.match(readFileSync(join(runDir, "stderr.log"), "utf8"), /fake trainer: run fake-1[\s\S]*trainer ended: exit code 0/);
  } finally {
    run.kill();
  }
});

test("a control the trainer refuses comes back as rejected with its reason, and training goes on", async () => {
  const { run, events } = startFake({ FAKE_STEP_MS: "20" }, ["--max-steps", "1000"]);
  try {
    await waitForEvent(run, ofType("hello"), 5000, events);
    const id = run.sendControl({ type: "pin", name: "no.such.tensor", tier: "hot" });
    const rejected = await waitForEvent(run, (e): e is Extract<Event, { type: "rejected" }> => e.type === "rejected" && e.id === id, 5000);
    assert.match(rejected.reason, /unknown tensor/);
    const stepAtReject = events.filter(ofType("step")).at(-1)?.step ?? 0;
    await waitForEvent(run, (e) => e.type === "step" && e.step > stepAtReject + 1, 5000);
  } finally {
    run.kill();
    await run.exited;
  }
});

test("a trainer that crashes is reported as crashed with its stderr tail", async () => {
  const { run } = startFake({ FAKE_STEP_MS: "5", FAKE_CRASH_AT: "3" });
  const exit = await run.exited;
  assert.equal(exit.crashed, true);
  assert.equal(exit.code, 3);
  assert.equal(exit.sawDone, false);
  assert.match(exit.stderrTail.at(-1) ?? "", /RuntimeError: fake crash at step 3/);
  assert.throws(() => run.sendControl({ type: "pause" }), /not running/);
});

test("a SIGKILLed trainer is reported as crashed, with its stderr tail", async () => {
  const { run, events } = startFake({ FAKE_STEP_MS: "50" }, ["--max-steps", "1000"]);
  await waitForEvent(run, ofType("step"), 5000, events);
  process.kill(run.pid!, "SIGKILL");
  const exit = await run.exited;
  assert.deepEqual({ code: exit.code, signal: exit.signal, crashed: exit.crashed }, { code: null, signal: "SIGKILL", crashed: true });
  assert.ok(exit.stderrTail.some((l) => l.includes("fake trainer: run fake-1")), exit.stderrTail.join("\n"));
});

test("stdout noise is reported and skipped; every event still arrives", async () => {
  const { run, events } = startFake({ FAKE_STEP_MS: "1", FAKE_NOISE: "1" }, ["--max-steps", "4"]);
  const noise: string[] = [];
  run.onNoise((_t, reason) => noise.push(reason));
  const exit = await run.exited;
  assert.equal(exit.crashed, false);
  assert.deepEqual(events.map((e) => e.type).filter((t) => t === "step").length, 4);
  assert.equal(noise.length, events.length, "one noise line after each event");
  assert.ok(noise.every((r) => r === "not JSON"));
});

test("stop escalates to SIGTERM when the trainer ignores the stop line", async () => {
  const { run, events } = startFake({ FAKE_STEP_MS: "20", FAKE_IGNORE_STOP: "1" }, ["--max-steps", "100000"]);
  await waitForEvent(run, ofType("hello"), 5000, events);
  const t0 = Date.now();
  const exit = await run.stop(300);
  assert.equal(exit.signal, "SIGTERM");
  assert.equal(exit.crashed, true);
  assert.ok(Date.now() - t0 >= 250, "waited for the grace period");
  assert.ok(events.some((e) => e.type === "ack" && e.control === "stop"), "the stop line was sent");
});

test("a trainer that cannot be started is reported, not thrown", async () => {
  const runDir = tempDir();
  const run = RunManager.start({ command: join(runDir, "no-such-python"), args: [], cwd: runDir, runId: "x", runDir });
  const exit = await run.exited;
  assert.equal(exit.crashed, true);
  assert.equal(exit.code, null);
  assert.match(exit.stderrTail.join("\n"), /failed to start .*no-such-python.*ENOENT/);
});

// ---- the real trainer -------------------------------------------------------------------------------
const python = existsSync(join(REPO_ROOT, ".venv/bin/python")) ? join(REPO_ROOT, ".venv/bin/python") : "python3";
const probe = spawnSync(python, ["-c", "import hima.app.train"], { encoding: "utf8" });
const realSkip = probe.status === 0 ? false : `the real trainer is not importable yet (${python} -c "import hima.app.train": ${(probe.stderr || probe.error?.message || "").trim().split("\n").at(-1)})`;

test("real trainer (tiny preset): hello -> steps -> tiers -> set_cutoffs acked -> stop -> done", { skip: realSkip, timeout: 120_000 }, async () => {
  const dataDir = writeSyntheticTokens(tempDir());
  const runDir = tempDir();
  const run = RunManager.start({
    command: python,
    args: trainerArgs({ preset: "tiny", dataDir, outDir: runDir, runId: "real-1", maxSteps: 400, device: "cpu" }),
    cwd: REPO_ROOT,
    runId: "real-1",
    runDir,
  });
  const events: Event[] = [];
  run.onEvent((e) => events.push(e));
  try {
    const hello = await waitForEvent(run, ofType("hello"), 60_000, events);
    assert.equal(hello.run_id, "real-1");
    assert.ok(hello.tensors.length > 0);
    await waitForEvent(run, ofType("tiers"), 30_000, events);
    await waitForEvent(run, (e) => e.type === "step" && e.step >= 2, 30_000, events);

    const id = run.sendControl({ type: "set_cutoffs", hot: 0.2, warm: 0.5 });
    const ack = await waitForEvent(run, (e): e is Extract<Event, { type: "ack" }> => e.type === "ack" && e.id === id, 30_000, events);
    assert.equal(ack.control, "set_cutoffs");
    const retiered = await waitForEvent(run, (e): e is Extract<Event, { type: "tiers" }> => e.type === "tiers" && e.step >= ack.effective_step && e.cutoffs.hot === 0.2, 30_000, events);
    assert.deepEqual(retiered.cutoffs, { hot: 0.2, warm: 0.5 }, "the new cutoffs took effect");
    // A control the schema refuses never reaches the trainer (the trainer's own rejection: test_run_controls.py).
    assert.throws(() => run.sendControl({ type: "set_cutoffs", hot: 0.9, warm: 0.1 }), /hot \(0\.9\) must not exceed warm \(0\.1\)/);

    const exit = await run.stop(30_000);
    assert.equal(exit.crashed, false, exit.stderrTail.join("\n"));
    const done = events.find(ofType("done"));
    assert.ok(done, "a done event");
    assert.equal(done.reason, "stopped");
    assert.ok(done.step < 400);
  } finally {
    run.kill();
    await run.exited;
  }
});

test("real trainer killed with SIGKILL is reported as crashed with its stderr tail", { skip: realSkip, timeout: 120_000 }, async () => {
  const dataDir = writeSyntheticTokens(tempDir());
  const runDir = tempDir();
  const run = RunManager.start({
    command: python,
    args: trainerArgs({ preset: "tiny", dataDir, outDir: runDir, runId: "real-2", maxSteps: 10_000, device: "cpu" }),
    cwd: REPO_ROOT,
    runId: "real-2",
    runDir,
  });
  const events: Event[] = [];
  run.onEvent((e) => events.push(e));
  await waitForEvent(run, ofType("step"), 60_000, events);
  process.kill(run.pid!, "SIGKILL");
  const exit = await run.exited;
  assert.equal(exit.crashed, true);
  assert.equal(exit.signal, "SIGKILL");
  assert.equal(exit.sawDone, false);
  assert.deepEqual(exit.stderrTail, run.stderrTail());
});
