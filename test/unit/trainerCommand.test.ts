import { test } from "node:test";
import assert from "node:assert/strict";
import { trainerArgs } from "../../src/run/trainerCommand";
import { validateControl, validateEvent } from "../../src/run/validateEvent";

test("trainerArgs builds the documented command line", () => {
  assert.deepEqual(trainerArgs({ preset: "tiny", dataDir: "/d", outDir: "/o", runId: "r-1", maxSteps: 50, method: "hima-no-warm", hot: 0.2, warm: 0.5, device: "cpu" }), [
    "-m", "hima", "train", "--preset", "tiny", "--data", "/d", "--out", "/o", "--run-id", "r-1", "--max-steps", "50",
    "--method", "hima-no-warm", "--hot", "0.2", "--warm", "0.5", "--device", "cpu",
  ]);
  assert.deepEqual(trainerArgs({ configFile: "/w/run.json", dataDir: "/d", outDir: "/o", runId: "r" }), ["-m", "hima", "train", "--config", "/w/run.json", "--data", "/d", "--out", "/o", "--run-id", "r"]);
  // Fine-tuning: the base weights go last; LISA is a method like the others.
  assert.deepEqual(trainerArgs({ dataDir: "/d", outDir: "/o", runId: "r", method: "lisa", initFrom: "/runs/base/checkpoints/step-6.pt" }).slice(-4),
    ["--method", "lisa", "--init-from", "/runs/base/checkpoints/step-6.pt"]);
});

test("trainerArgs refuses values the trainer would choke on", () => {
  const base = { dataDir: "/d", outDir: "/o", runId: "r" };
  assert.throws(() => trainerArgs({ ...base, runId: "../x" }), /invalid run id/);
  assert.throws(() => trainerArgs({ ...base, maxSteps: 0 }), /positive integer/);
  assert.throws(() => trainerArgs({ ...base, maxSteps: 1.5 }), /positive integer/);
  assert.throws(() => trainerArgs({ ...base, method: "adam" }), /unknown method "adam"/);
  assert.throws(() => trainerArgs({ ...base, hot: Number.NaN }), /--hot must be a fraction/);
  assert.throws(() => trainerArgs({ ...base, warm: 1.1 }), /--warm must be a fraction/);
  assert.throws(() => trainerArgs({ ...base, hot: 0.6, warm: 0.5 }), /must not exceed warm/);
  assert.throws(() => trainerArgs({ ...base, preset: "tiny --device cuda" }), /invalid preset/);
  assert.throws(() => trainerArgs({ ...base, device: "gpu" }), /invalid device/);
  assert.throws(() => trainerArgs({ ...base, dataDir: "" }), /data directory is required/);
  assert.throws(() => trainerArgs({ ...base, initFrom: "" }), /base weights path is empty/);
});

test("validateEvent accepts protocol events and says why it refuses the rest", () => {
  const step = { v: 1, type: "step", step: 3, loss: 2.5, lr: 1e-3, step_time_ms: 12, tokens_per_s: 900 };
  assert.deepEqual(validateEvent(step), step);
  assert.equal(validateEvent([1]), "event is not a JSON object");
  assert.equal(validateEvent({ v: 1 }), 'event has no string "type"');
  assert.equal(validateEvent({ v: 1, type: "party" }), 'unknown event type "party"');
  assert.equal(validateEvent({ ...step, loss: "high" }), "step event: /loss must be number");
  assert.equal(validateEvent({ ...step, v: 2 }), "step event: /v must be equal to constant (expected 1)");
  assert.equal(validateEvent({ ...step, extra: true }), "step event: (root) must NOT have additional properties (extra)");
  assert.match(String(validateEvent({ v: 1, type: "tiers", step: 1 })), /^tiers event: \(root\) must have required property/);
  assert.deepEqual(validateControl({ v: 1, type: "stop", id: "a" }), { v: 1, type: "stop", id: "a" });
  assert.equal(validateControl({ v: 1, type: "set_cutoffs", id: "a", hot: 2, warm: 1 }), "set_cutoffs control: /hot must be <= 1");
});
