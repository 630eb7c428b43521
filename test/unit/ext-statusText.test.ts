// The status bar item and the end-of-run notification text.
import { test } from "node:test";
import assert from "node:assert/strict";
import { doneSummary, statusBarText } from "../../src/views/statusText";

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
