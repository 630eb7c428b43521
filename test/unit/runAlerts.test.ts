// The run alert rules (src/run/runAlerts.ts) on crafted series: a NaN loss, a loss that runs away from its
// smoothed value, a run that goes quiet; each raised once until the run recovers, none for a healthy run or for
// a replayed history. Property tests: a loss that never rises above its running minimum never alerts, and no
// alert is raised for a kind that is raised already.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import type { Event } from "../../protocol/protocol.generated";
import { DEFAULT_ALERT_RULES, RunAlertDetector, watchRunAlerts, type RunAlert } from "../../src/run/runAlerts";
import { Listeners } from "../../src/run/Listeners";
import { launchFake } from "./detachedHelpers";

const step = (n: number, loss: number): Event => ({ v: 1, type: "step", step: n, loss, lr: 1e-3, step_time_ms: 10, tokens_per_s: 100 });
const hello = (start = 0): Event => ({
  v: 1, type: "hello", run_id: "r", method: "hima", device: "cpu", dtype: "float32", max_steps: 1000, start_step: start,
  cutoffs: { hot: 0.3, warm: 0.6 }, model: { preset: "tiny", n_params: 1, n_layer: 1 }, config: {}, tensors: [],
});
const nanError: Event = { v: 1, type: "error", message: "loss became nan at step 7", fatal: false, rank: null, cause: "non_finite_loss" };

/** Feeds the losses one step per second; returns the alerts, each with the step it came at. */
function feed(losses: number[], d = new RunAlertDetector(), startStep = 1): RunAlert[] {
  const out: RunAlert[] = [];
  losses.forEach((loss, i) => out.push(...d.onEvent(step(startStep + i, loss), (startStep + i) * 1000)));
  return out;
}

const decaying = (n: number) => Array.from({ length: n }, (_, i) => 5 * Math.exp(-i / 30) + 1 + 0.05 * Math.sin(i * 1.3));

test("a healthy, noisy, falling loss raises nothing", () => {
  assert.deepEqual(feed(decaying(300)), []);
});

test("a loss that runs away is one divergence alert, at the third step far above the smoothed value", () => {
  const losses = [...decaying(50), 9, 10, 11, 12, 13, 14];
  const alerts = feed(losses);
  assert.equal(alerts.length, 1, JSON.stringify(alerts));
  assert.equal(alerts[0].kind, "divergence");
  assert.equal(alerts[0].step, 53);
  assert.match(alerts[0].message, /loss 11\.00 at step 53 is far above its smoothed value \d\.\d+: the run may be diverging/);
});

test("one spike is noise; a rise within the margin is not divergence", () => {
  assert.deepEqual(feed([...decaying(50), 9, 1.5, 9, 1.5, 9, 1.5]), []);
  const base = decaying(50);
  const last = base[base.length - 1];
  assert.deepEqual(feed([...base, ...Array(20).fill(last * 1.3)]), []);
});

test("no divergence judged during the warm-up steps, whatever the first losses do", () => {
  assert.deepEqual(feed([1, 1, 5, 6, 7, 8, 9, 10]), []);
});

test("divergence is raised again only after the loss came back for a few steps", () => {
  const d = new RunAlertDetector();
  const base = decaying(50);
  assert.equal(feed(base, d).length, 0);
  assert.equal(feed([20, 20, 20, 20, 20, 20], d, 51).length, 1);
  assert.ok(d.raised.has("divergence"));
  assert.equal(feed([20, 20, 1.2, 20, 20, 20], d, 57).length, 0, "one low step is not a recovery");
  assert.equal(feed([1.2, 1.2, 1.2], d, 63).length, 0);
  assert.ok(!d.raised.has("divergence"), "recovered");
  assert.equal(feed([20, 20, 20], d, 66).length, 1, "a new divergence is a new alert");
});

test("a loss that stays high does not become the baseline (the detector keeps its smoothed value)", () => {
  const alerts = feed([...decaying(50), ...Array(500).fill(30)]);
  assert.equal(alerts.length, 1);
});

test("a non-finite loss (an error event with cause non_finite_loss) alerts once until a finite step follows", () => {
  const d = new RunAlertDetector();
  feed(decaying(5), d);
  const first = d.onEvent(nanError, 6000);
  assert.deepEqual(first.map((a) => [a.kind, a.step, a.message]), [["non_finite_loss", 5, "loss became nan at step 7"]]);
  assert.deepEqual(d.onEvent(nanError, 7000), [], "the same condition is not repeated");
  feed([2], d, 8);
  assert.equal(d.onEvent(nanError, 9000).length, 1, "after a finite step it is news again");
  const other: Event = { v: 1, type: "error", message: "CUDA error", fatal: true, rank: null };
  assert.deepEqual(new RunAlertDetector().onEvent(other, 0), [], "other errors are not loss alerts");
});

test("a stall: no event for 20 times the usual gap (and at least a minute); once, until an event comes", () => {
  const d = new RunAlertDetector();
  for (let i = 1; i <= 10; i++) d.onEvent(step(i, 2), i * 10_000); // a step every 10 s
  assert.deepEqual(d.check(100_000 + 199_000), [], "199 s of quiet: within 20 x 10 s");
  const [stall] = d.check(100_000 + 201_000);
  assert.equal(stall.kind, "stall");
  assert.equal(stall.step, 10);
  assert.match(stall.message, /no event for 201 s \(usually a step every 10 s\)/);
  assert.deepEqual(d.check(100_000 + 400_000), [], "said once");
  d.onEvent({ v: 1, type: "eval", step: 10, val_loss: 2 }, 600_000);
  assert.ok(!d.raised.has("stall"), "any event is a sign of life");
  assert.equal(d.check(600_000 + 201_000).length, 1, "quiet again: a new alert");
});

test("fast steps still get a minute before a stall; paused, finished and fresh runs never stall", () => {
  const fast = new RunAlertDetector();
  for (let i = 1; i <= 10; i++) fast.onEvent(step(i, 2), i * 100);
  assert.deepEqual(fast.check(1000 + 59_000), []);
  assert.equal(fast.check(1000 + DEFAULT_ALERT_RULES.minStallMs + 1).length, 1);

  const paused = new RunAlertDetector();
  for (let i = 1; i <= 10; i++) paused.onEvent(step(i, 2), i * 100);
  paused.onEvent({ v: 1, type: "status", step: 10, state: "paused" }, 1100);
  assert.deepEqual(paused.check(1_000_000), []);
  paused.onEvent({ v: 1, type: "status", step: 10, state: "running" }, 1_000_000);
  assert.equal(paused.check(1_000_000 + 61_000).length, 1, "running again: the clock restarted at the status");

  const done = new RunAlertDetector();
  for (let i = 1; i <= 10; i++) done.onEvent(step(i, 2), i * 100);
  done.onEvent({ v: 1, type: "done", step: 10, reason: "completed", summary: { wall_time_s: 1, first_loss: 2, last_loss: 2, last_val_loss: null, counts: { hot: { tensors: 0, elements: 0 }, warm: { tensors: 0, elements: 0 }, cold: { tensors: 0, elements: 0 } }, optimizer_state_bytes: 0, full_optimizer_state_bytes: 0, transitions: 0, checkpoint: null } }, 1100);
  assert.deepEqual(done.check(10_000_000), []);

  const starting = new RunAlertDetector();
  starting.onEvent(hello(), 0);
  starting.onEvent(step(1, 2), 100); // one step: no usual interval yet (building, compiling)
  assert.deepEqual(starting.check(10_000_000), []);
});

test("replayed history builds the baseline but raises nothing and does not time the run", () => {
  const d = new RunAlertDetector();
  const history = [...decaying(50), 20, 20, 20, 20];
  history.forEach((loss, i) => assert.deepEqual(d.onEvent(step(i + 1, loss), 0, true), []));
  assert.deepEqual(d.onEvent(nanError, 0, true), []);
  assert.deepEqual(d.check(10_000_000), [], "no live step yet: no interval to judge");
  // Live from here: a new hello (the resumed trainer) starts afresh.
  d.onEvent(hello(54), 1000);
  assert.equal(d.raised.size, 0);
});

test("property: a loss that never rises above its running minimum by more than the margins never alerts", () => {
  fc.assert(
    fc.property(fc.array(fc.double({ min: 0.01, max: 20, noNaN: true }), { minLength: 1, maxLength: 300 }), (raw) => {
      let min = Infinity;
      const losses = raw.map((v) => (min = Math.min(min, v)));
      return feed(losses).length === 0;
    }),
  );
});

test("property: an alert is never raised for a kind already raised (once per kind until it recovers)", () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.double({ min: 0, max: 100, noNaN: true }), fc.constant(Number.NaN)), { maxLength: 200 }), (losses) => {
      const d = new RunAlertDetector();
      losses.forEach((loss, i) => {
        const before = new Set(d.raised);
        const alerts = Number.isNaN(loss) ? d.onEvent(nanError, i * 1000) : d.onEvent(step(i + 1, loss), i * 1000);
        for (const a of alerts) assert.ok(!before.has(a.kind), `${a.kind} raised twice without a recovery`);
        for (const a of alerts) assert.ok(d.raised.has(a.kind));
      });
    }),
  );
});

test("watchRunAlerts: alerts from events and from the timer reach notify; it stops at the trainer's exit", async () => {
  const events = new Listeners<[Event, boolean]>();
  const exits = new Listeners<[]>();
  let now = 0;
  const seen: RunAlert[] = [];
  const source = { onEvent: (cb: (e: Event, r: boolean) => void) => events.add(cb), onExit: (cb: () => void) => exits.add(cb) };
  const stop = watchRunAlerts(source, (a) => seen.push(a), { now: () => now, checkEveryMs: 5 });
  for (let i = 1; i <= 5; i++) {
    now = i * 1000;
    events.emit(step(i, 2), false);
  }
  events.emit(nanError, false);
  assert.deepEqual(seen.map((a) => a.kind), ["non_finite_loss"]);
  now += 10 * 60_000; // ten minutes without an event: the timer's check finds the stall
  for (let tries = 0; tries < 500 && seen.length < 2; tries++) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(seen.map((a) => a.kind), ["non_finite_loss", "stall"]);
  exits.emit();
  events.emit(step(6, 2), false);
  events.emit({ ...nanError }, false);
  assert.equal(seen.length, 2, "nothing after the exit: the listeners are gone");
  stop(); // a second stop is harmless
});

test("the extension's wiring: a detached run's events (DetachedRun, as LiveRun gets them) raise each alert once", async () => {
  const losses = [...Array.from({ length: 20 }, (_, i) => (4 - i * 0.1).toFixed(2)), "nan", "3", "2.1", "9", "9.5", "10"];
  const { run } = launchFake({ FAKE_STEP_MS: "5", FAKE_LOSSES: losses.join(",") }, ["--max-steps", "40"]);
  const seen: RunAlert[] = [];
  watchRunAlerts(run, (a) => seen.push(a));
  const exit = await run.exited;
  assert.ok(exit.sawDone, JSON.stringify(exit));
  assert.deepEqual(seen.map((a) => [a.kind, a.step]), [["non_finite_loss", 20], ["divergence", 26]]);
});
