// The status bar item and the end-of-run notification text.
import { test } from "node:test";
import assert from "node:assert/strict";
import { doneSummary, endOfRunNotice, statusBarText } from "../../src/views/statusText";

const counts = { hot: { tensors: 12, elements: 100 }, warm: { tensors: 8, elements: 50 }, cold: { tensors: 10, elements: 70 } };

test("a live run shows step, loss and Hot/Warm/Cold counts", () => {
  assert.equal(statusBarText({ state: "running", step: 120, maxSteps: 300, loss: 4.2071, counts }), "$(pulse) HiMA step 120/300 · loss 4.21 · H12 W8 C10");
});

test("before the first step and tiers it shows what it knows; paused and stopping are said", () => {
  assert.equal(statusBarText({ state: "starting", step: 0, maxSteps: null, loss: null, counts: null }), "$(loading~spin) HiMA starting");
  assert.equal(statusBarText({ state: "running", step: 0, maxSteps: 300, loss: null, counts: null }), "$(pulse) HiMA step 0/300");
  assert.match(statusBarText({ state: "paused", step: 5, maxSteps: 300, loss: 5, counts }), /^\$\(debug-pause\).*paused$/);
  assert.match(statusBarText({ state: "stopping", step: 5, maxSteps: 300, loss: 5, counts }), /stopping$/);
});

test("the done summary gives steps, loss change, tiers and optimizer-state saving", () => {
  const text = doneSummary({
    step: 300,
    reason: "completed",
    summary: { wall_time_s: 61.4, first_loss: 8.31, last_loss: 4.52, counts, optimizer_state_bytes: 2 * 1024 * 1024, full_optimizer_state_bytes: 8 * 1024 * 1024, transitions: 42 },
  });
  assert.equal(text, "completed after 300 steps in 61 s, loss 8.31 → 4.52, Hot/Warm/Cold 12/8/10 tensors, optimizer state 2.0 MB of 8.0 MB (75% saved), 42 tier transitions");
});

const summary = { wall_time_s: 3.2, first_loss: 4.2, last_loss: 4.2, counts, optimizer_state_bytes: 8 * 1024 * 1024, full_optimizer_state_bytes: 8 * 1024 * 1024, transitions: 0 };
const traceback = ["Traceback (most recent call last):", "FloatingPointError: loss became nan at step 10; lower the learning rate"];

test("a run whose training failed is reported as failed with the trainer's message and stderr tail, not as an abnormal exit", () => {
  const notice = endOfRunNotice({
    runId: "r1", how: "exit code 1", crashed: true, stderrTail: traceback,
    done: { step: 10, reason: "error", summary },
    fatalError: "FloatingPointError: loss became nan at step 10; lower the learning rate",
  });
  assert.equal(notice.severity, "error");
  assert.equal(notice.text, `HiMA run r1 failed: FloatingPointError: loss became nan at step 10; lower the learning rate.\n${traceback.join("\n")}`);
  assert.doesNotMatch(notice.text, /abnormally|finished/);
});

test("the other ends keep their texts: bad input, a crash, a done then a bad exit, a completed run", () => {
  const base = { runId: "r1", how: "exit code 2", crashed: true, done: null, stderrTail: [] };
  assert.deepEqual(endOfRunNotice({ ...base, fatalError: "data directory not found: /x" }), {
    severity: "error", text: "HiMA run r1 failed: data directory not found: /x (exit code 2). The trainer wrote nothing to stderr.",
  });
  assert.equal(endOfRunNotice({ ...base, how: "signal SIGKILL", fatalError: null, stderrTail: ["boom"] }).text, "HiMA run r1 crashed (signal SIGKILL).\nboom");
  const completed = { step: 300, reason: "completed", summary };
  assert.match(endOfRunNotice({ ...base, how: "exit code 1", fatalError: null, done: completed }).text, /^HiMA run r1 finished \(completed after 300 steps.*exited abnormally \(exit code 1\)/);
  assert.deepEqual(endOfRunNotice({ ...base, how: "exit code 0", crashed: false, fatalError: null, done: completed }), { severity: "info", text: `HiMA run r1 ${doneSummary(completed)}.` });
});
