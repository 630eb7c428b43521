import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { copyFileSync } from "node:fs";
import type { Event, EventOf, TensorInfo, Tier } from "../../protocol/protocol.generated";
import { HISTORY_SENT_PER_TENSOR, RunModel } from "../../src/run/RunModel";
import { readRunEvents } from "../../src/run/RunStore";
import { REPO_ROOT, tempDir } from "../fixtures/runHelpers";

async function recorded(name: string): Promise<Event[]> {
  const dir = tempDir();
  copyFileSync(join(REPO_ROOT, "test/fixtures", name), join(dir, "events.jsonl"));
  const { events, skipped } = await readRunEvents(dir);
  assert.equal(skipped, 0, `${name} is a valid log`);
  return events;
}

const tensors: TensorInfo[] = ["a", "b", "c"].map((name, i) => ({ name, layer: i, group: `block ${i}`, kind: "mlp.in", shape: [10], numel: 10 }));
const hello = (over: Partial<EventOf<"hello">> = {}): EventOf<"hello"> => ({
  v: 1, type: "hello", run_id: "r1", method: "hima", device: "cpu", dtype: "float32", max_steps: 100, start_step: 0,
  cutoffs: { hot: 0.3, warm: 0.6 }, model: { preset: "tiny", n_params: 30, n_layer: 3 }, config: {}, tensors, ...over,
});
const step = (s: number, loss = 5 - s * 0.01): EventOf<"step"> => ({ v: 1, type: "step", step: s, loss, lr: 1e-3, step_time_ms: 10, tokens_per_s: 1000 });
function tiersEvent(s: number, tiers: Tier[]): EventOf<"tiers"> {
  const count = (t: Tier) => ({ tensors: tiers.filter((x) => x === t).length, elements: tiers.filter((x) => x === t).length * 10 });
  return {
    v: 1, type: "tiers", step: s, cutoffs: { hot: 0.3, warm: 0.6 }, counts: { hot: count("hot"), warm: count("warm"), cold: count("cold") },
    tensors: tiers.map((tier, i) => ({ name: tensors[i].name, tier, score: i, pinned: false })),
    transitions: [],
  };
}

test("a recorded run replays into a panel snapshot: one tier per tensor, charts with points, val loss at eval steps", async () => {
  const events = await recorded("fake-run.events.jsonl");
  const model = new RunModel();
  model.setStatus("replay");
  for (const e of events) model.apply(e);
  const snap = model.snapshot();
  const helloEvent = events[0] as EventOf<"hello">;
  assert.equal(snap.run?.id, "fake-recorded");
  assert.equal(snap.run?.status, "replay", "replay stays replay after hello and done");
  assert.equal(snap.live, false);
  assert.equal(snap.tensors.length, helloEvent.tensors.length);
  assert.equal(snap.tiers.length, snap.tensors.length);

  const lastTiers = events.filter((e): e is EventOf<"tiers"> => e.type === "tiers").at(-1)!;
  for (const t of lastTiers.tensors) {
    const i = snap.tensors.findIndex((x) => x.name === t.name);
    assert.equal(snap.tiers[i].tier, t.tier, t.name);
    assert.equal(snap.tiers[i].changed, lastTiers.transitions.some((tr) => tr.name === t.name), `changed flag of ${t.name}`);
    assert.equal(snap.history[i].at(-1)?.[1], t.tier, "history ends at the current tier");
  }
  assert.deepEqual(snap.counts, lastTiers.counts);
  assert.equal(snap.tierStep, lastTiers.step);

  const steps = events.filter((e) => e.type === "step").length;
  assert.equal(snap.charts.loss.x.length, steps);
  const val = snap.charts.loss.x.filter((_, i) => snap.charts.loss.series.val_loss[i] !== null);
  assert.deepEqual(val, events.filter((e) => e.type === "eval").map((e) => (e as EventOf<"eval">).step));
  assert.equal(snap.charts.throughput.series.tokens_per_s.length, steps);
  assert.ok(snap.charts.memory.x.length > 0);
  assert.ok(snap.charts.memory.series.state_total.every((v) => v !== null && v > 0));
  assert.equal(snap.charts.tierCounts.x.length, new Set(events.filter((e) => e.type === "tiers").map((e) => (e as EventOf<"tiers">).step)).size);
  assert.equal(snap.run?.step, 12);
});

test("controls: pending until acked with the effective step, or rejected with the reason", () => {
  const model = new RunModel();
  model.apply(hello());
  model.trackControl("c1", { v: 1, type: "set_cutoffs", id: "c1", hot: 0.25, warm: 0.5 });
  model.trackControl("c2", { v: 1, type: "pin", id: "c2", name: "zz", tier: "hot" });
  assert.deepEqual(model.snapshot().controls.map((c) => [c.label, c.state]), [["set_cutoffs hot=0.25 warm=0.50", "pending"], ["pin zz to hot", "pending"]]);

  model.apply({ v: 1, type: "ack", id: "c1", control: "set_cutoffs", effective_step: 42 });
  model.apply({ v: 1, type: "rejected", id: "c2", reason: "unknown tensor \"zz\"" });
  const update = model.takeUpdate();
  assert.deepEqual(update?.controls?.map((c) => [c.id, c.state, c.effectiveStep, c.reason]), [
    ["c1", "acked", 42, null],
    ["c2", "rejected", null, "unknown tensor \"zz\""],
  ]);
  // A rejected line the trainer could not even read an id from still shows up.
  model.apply({ v: 1, type: "rejected", id: null, reason: "control line is not JSON" });
  assert.equal(model.snapshot().controls.at(-1)?.reason, "control line is not JSON");
});

test("updates carry only what changed, and nothing when nothing did", () => {
  const model = new RunModel({ runId: "r1" });
  assert.equal(model.snapshot().run?.status, "starting");
  assert.equal(model.takeUpdate(), null);

  model.apply(hello());
  let u = model.takeUpdate()!;
  assert.equal(u.run?.status, "running");
  assert.equal(u.charts, undefined);

  model.apply(step(1));
  u = model.takeUpdate()!;
  assert.deepEqual(Object.keys(u).sort(), ["charts", "run"]);
  assert.equal(u.run?.loss, 4.99);
  assert.deepEqual(u.charts?.loss.x, [1]);
  assert.equal(model.takeUpdate(), null);

  model.apply(tiersEvent(1, ["hot", "warm", "cold"]));
  u = model.takeUpdate()!;
  assert.deepEqual(u.tiers?.states.map((s) => s.tier), ["hot", "warm", "cold"]);
  assert.deepEqual(u.tiers?.counts.cold, { tensors: 1, elements: 10 });
  assert.equal(u.run, undefined);

  model.setStatus("crashed", "signal SIGKILL", ["RuntimeError: boom"]);
  u = model.takeUpdate()!;
  assert.deepEqual([u.run?.status, u.run?.exit, u.run?.errorTail, u.live], ["crashed", "signal SIGKILL", ["RuntimeError: boom"], false]);
});

test("tier history grows only when a tensor changes tier, and `changed` marks the latest movers", () => {
  const model = new RunModel();
  model.apply(hello());
  for (let s = 0; s < 100; s++) model.apply(tiersEvent(s, ["hot", "warm", "cold"]));
  model.apply(tiersEvent(100, ["warm", "warm", "cold"]));
  let snap = model.snapshot();
  assert.deepEqual(snap.history[0], [[0, "hot"], [100, "warm"]]);
  assert.deepEqual(snap.history[1], [[0, "warm"]]);
  assert.deepEqual(snap.tiers.map((t) => t.changed), [true, false, false]);
  model.apply(tiersEvent(101, ["warm", "warm", "cold"]));
  snap = model.snapshot();
  assert.deepEqual(snap.tiers.map((t) => t.changed), [false, false, false]);
});

test("a long run stays bounded: 100k steps keep every point on the host and send at most maxPoints", () => {
  const model = new RunModel({ maxPoints: 500 });
  model.apply(hello({ max_steps: 100_000 }));
  const t0 = performance.now();
  for (let s = 1; s <= 100_000; s++) {
    model.apply(step(s, s === 77_777 ? 50 : 3));
    if (s % 1000 === 0) model.apply({ v: 1, type: "eval", step: s, val_loss: 3.5 });
  }
  const applyMs = performance.now() - t0;
  assert.equal(model.fullResolutionSteps, 100_000);
  const snap = model.snapshot();
  assert.ok(snap.charts.loss.x.length <= 500);
  assert.equal(snap.charts.loss.x.at(-1), 100_000, "latest step always shown");
  assert.ok(snap.charts.loss.series.loss.includes(50), "the spike is visible");
  assert.ok(snap.charts.loss.series.val_loss.some((v) => v === 3.5));
  // Folding is O(1) per event; a generous bound that only an O(n) fold would break.
  assert.ok(applyMs < 3000, `100k events took ${applyMs.toFixed(0)} ms`);
});

test("a long live run: updates carry a bounded chart and the newest tier changes, ending at the current state", () => {
  const model = new RunModel({ maxPoints: 200 });
  model.apply(hello());
  model.snapshot();
  const cycle: Tier[][] = [["hot", "warm", "cold"], ["warm", "cold", "hot"], ["cold", "hot", "warm"]];
  for (let s = 1; s <= 20_000; s++) {
    model.apply(step(s, s === 12_345 ? 40 : 3 + (s % 7) * 0.01));
    if (s % 100 === 0) model.apply(tiersEvent(s, cycle[(s / 100) % 3]));
    if (s % 997 === 0 || s === 20_000) {
      const u = model.takeUpdate()!;
      const loss = u.charts!.loss;
      assert.ok(loss.x.length <= 200, `${loss.x.length} rows`);
      assert.equal(loss.x.at(-1), s, "the latest step is in the update");
      if (s >= 12_345) assert.ok(loss.series.loss.includes(40), "the spike stays visible in every later update");
    }
  }
  const u = model.snapshot();
  assert.deepEqual(u.tiers.map((t) => t.tier), cycle[200 % 3]);
  for (const [i, h] of u.history.entries()) {
    assert.equal(h.length, HISTORY_SENT_PER_TENSOR, "200 tier changes, only the newest are sent");
    assert.deepEqual(h.at(-1), [20_000, cycle[200 % 3][i]], "newest change last");
    assert.ok(h.every((e, k) => k === 0 || e[0] > h[k - 1][0]), "oldest first");
  }
});

test("a resumed segment replaces the points after its start step", () => {
  const model = new RunModel();
  model.apply(hello());
  for (let s = 1; s <= 10; s++) model.apply(step(s));
  model.apply(hello({ start_step: 6 }));
  model.apply(step(7, 1));
  const loss = model.snapshot().charts.loss;
  assert.deepEqual(loss.x, [1, 2, 3, 4, 5, 6, 7]);
  assert.equal(loss.series.loss.at(-1), 1);
});

test("a live run: status events pause and resume it, done ends it", () => {
  const model = new RunModel();
  model.setStatus("starting");
  model.apply(hello());
  model.apply({ v: 1, type: "status", step: 3, state: "paused" });
  assert.equal(model.snapshot().run?.status, "paused");
  assert.equal(model.live, true);
  model.apply({ v: 1, type: "status", step: 3, state: "running" });
  model.apply({
    v: 1, type: "done", step: 9, reason: "completed",
    summary: { wall_time_s: 1, first_loss: 5, last_loss: 2, last_val_loss: 2.5, counts: tiersEvent(9, ["hot", "hot", "hot"]).counts, optimizer_state_bytes: 1, full_optimizer_state_bytes: 2, transitions: 0, checkpoint: null },
  });
  const run = model.snapshot().run!;
  assert.deepEqual([run.status, run.step, run.loss, run.valLoss], ["done", 9, 2, 2.5]);
  assert.equal(model.live, false);
});

test("a run recorded from the real trainer (tiny preset): all three tiers appear, state stays below full AdamW", async () => {
  const events = await recorded("tiny-run.events.jsonl");
  const model = new RunModel();
  model.setStatus("replay");
  const tierCountsSeen: Array<[number, number, number]> = [];
  for (const e of events) {
    model.apply(e);
    if (e.type === "tiers") {
      const c = model.snapshot().counts!;
      tierCountsSeen.push([c.hot.tensors, c.warm.tensors, c.cold.tensors]);
    }
  }
  assert.ok(tierCountsSeen.some(([h, w, c]) => h > 0 && w > 0 && c > 0), `all tiers non-empty at some re-tier: ${JSON.stringify(tierCountsSeen)}`);
  const snap = model.snapshot();
  const cold = snap.tiers.filter((t) => t.tier === "cold").length;
  assert.equal(cold, snap.counts!.cold.tensors, "the tier map agrees with the trainer's counts");
  assert.ok(snap.history.some((h) => h.length > 1), "some tensor changed tier");
  const mem = snap.charts.memory.series;
  const full = (events.find((e) => e.type === "memory") as EventOf<"memory">).full_optimizer_state_bytes;
  assert.ok((mem.state_total.at(-1) ?? Infinity) < full, "optimizer state below the full-AdamW figure");
  const loss = snap.charts.loss.series.loss.filter((v): v is number => v !== null);
  assert.ok(loss.at(-1)! < loss[0] - 1, `loss goes down: ${loss[0]} -> ${loss.at(-1)}`);
  assert.equal(snap.run?.method, "hima");
});

test("a panel opened while the run was starting gets the tensor list in the update after hello", () => {
  const model = new RunModel({ runId: "r1" });
  const before = model.snapshot();
  assert.equal(before.tensors.length, 0, "no tensors before hello");
  model.apply(hello());
  model.apply(tiersEvent(0, ["hot", "warm", "cold"]));
  const update = model.takeUpdate();
  assert.deepEqual(update?.tensors?.map((t) => t.name), ["a", "b", "c"]);
  assert.deepEqual(update?.tiers?.states.map((s) => s.tier), ["hot", "warm", "cold"]);
  model.apply(step(1));
  assert.equal(model.takeUpdate()?.tensors, undefined, "the tensor list is sent once, not with every update");
  model.apply(hello({ start_step: 1 }));
  assert.equal(model.takeUpdate()?.tensors, undefined, "a resumed segment of the same model does not resend it");
});

test("a run that finished and is resumed is live again when the resumed segment says hello", () => {
  const model = new RunModel({ runId: "r1" });
  model.apply(hello());
  model.apply(step(1));
  model.apply({ v: 1, type: "done", step: 1, reason: "stopped", summary: {
    wall_time_s: 1, first_loss: 5, last_loss: 5, last_val_loss: null,
    counts: { hot: { tensors: 3, elements: 30 }, warm: { tensors: 0, elements: 0 }, cold: { tensors: 0, elements: 0 } },
    optimizer_state_bytes: 0, full_optimizer_state_bytes: 0, transitions: 0, checkpoint: null } });
  assert.equal(model.snapshot().run?.status, "done");
  assert.equal(model.live, false);
  model.apply(hello({ start_step: 1 }));
  assert.equal(model.snapshot().run?.status, "running");
  assert.equal(model.live, true);
});

test("a recorded 2-process torchrun run replays into the per-rank spread of its last memory event, with all-reduce bytes per step", async () => {
  const { events, skipped } = await readRunEvents(join(REPO_ROOT, "test/panel/fixtures/ddp-run"));
  assert.equal(skipped, 0, "the recording is a valid log");
  const hello = events[0] as EventOf<"hello">;
  assert.equal(hello.nproc, 2);
  const memory = events.filter((e): e is EventOf<"memory"> => e.type === "memory");
  const model = new RunModel();
  model.setStatus("replay");
  for (const e of events) model.apply(e);
  const last = memory.at(-1)!.ranks!;
  // The trainer's closing memory event repeats the last step: it covers no steps, so its all-reduce average is 0
  // and the figure of the event before it (the last steps' traffic) is the one shown.
  assert.equal(memory.at(-1)!.step, memory.at(-2)!.step);
  assert.equal(last.allreduce_bytes_per_step, 0);
  const traffic = memory.at(-2)!.ranks!.allreduce_bytes_per_step;
  assert.ok(traffic > 0);
  assert.deepEqual(model.snapshot().rankMemory, {
    nproc: 2, min: last.rss_bytes!.min, max: last.rss_bytes!.max, measure: "resident", allreducePerStep: traffic,
  });
  // Cold tensors send no gradients: after re-tiering some to Cold, each rank all-reduces less than every
  // parameter's gradient (4 bytes per element, float32).
  const counts = (events.filter((e) => e.type === "tiers").at(-1) as EventOf<"tiers">).counts;
  const allElements = counts.hot.elements + counts.warm.elements + counts.cold.elements;
  assert.ok(counts.cold.tensors > 0);
  assert.ok(traffic < allElements * 4, `${traffic} bytes/step < all gradients ${allElements * 4}`);
});

test("rankMemory: a new all-reduce figure is sent as an update; a GPU run's spread is the allocator peak", () => {
  const model = new RunModel();
  const memoryEvent = (s: number, perStep: number): EventOf<"memory"> => ({
    v: 1, type: "memory", step: s, device: "cuda:0", optimizer_state_bytes: { total: 8, hot: 8, warm: 0, cold: 0 },
    full_optimizer_state_bytes: 16, evicted_bytes: 8, allocated_bytes: 100, peak_bytes: 200, rss_bytes: 300,
    ranks: { nproc: 4, allocated_bytes: { min: 90, max: 100 }, peak_bytes: { min: 180, max: 200 }, rss_bytes: { min: 1, max: 2 }, allreduce_bytes_per_step: perStep, allreduce_bytes_total: perStep * s },
  });
  model.apply(memoryEvent(5, 1000));
  assert.deepEqual(model.takeUpdate()?.rankMemory, { nproc: 4, min: 180, max: 200, measure: "peak", allreducePerStep: 1000 });
  model.apply(memoryEvent(10, 1000));
  assert.equal(model.takeUpdate()?.rankMemory, undefined, "nothing changed");
  model.apply(memoryEvent(15, 600)); // more tensors went Cold
  assert.equal(model.takeUpdate()?.rankMemory?.allreducePerStep, 600);
});
