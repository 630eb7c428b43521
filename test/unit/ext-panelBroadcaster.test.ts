// What the panels receive: a snapshot first, then coalesced updates; a hidden panel (which drops messages)
// gets a full snapshot with the latest state when it is shown again. Real RunModel, recorded events; the clock
// (setTimeout and Date) is node:test's mock, so the timings are exact however busy the machine is.
import { mock, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import type { HostToWebview } from "../../common/messages";
import type { Event } from "../../protocol/protocol.generated";
import { RunModel } from "../../src/run/RunModel";
import { readRunEvents } from "../../src/run/RunStore";
import { PanelBroadcaster, type PanelSink } from "../../src/views/PanelBroadcaster";
import { FIXTURES_DIR } from "./ext-fixtures";

/** Mocked setTimeout and Date for one test: `tick(ms)` moves time on and runs what fell due. */
function mockClock(t: TestContext): (ms: number) => void {
  mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_000_000 });
  t.after(() => mock.timers.reset());
  return (ms) => mock.timers.tick(ms);
}
/** Lets promise callbacks (a post's delivery result) run. */
const settle = () => new Promise<void>((r) => setImmediate(r));

class FakePanel implements PanelSink {
  received: HostToWebview[] = [];
  shown = true;
  deliver = true;
  post(m: HostToWebview): Promise<boolean> {
    if (this.shown && this.deliver) this.received.push(m);
    return Promise.resolve(this.shown && this.deliver);
  }
  visible(): boolean {
    return this.shown;
  }
  kinds(): string[] {
    return this.received.map((m) => m.kind);
  }
}

async function recordedEvents(): Promise<Event[]> {
  // readRunEvents wants a run folder; the fixture is a copy of a recorded events.jsonl.
  const { mkdtempSync, copyFileSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const dir = mkdtempSync(join(tmpdir(), "hima-bc-"));
  copyFileSync(join(FIXTURES_DIR, "fake-run.events.jsonl"), join(dir, "events.jsonl"));
  const { events } = await readRunEvents(dir);
  assert.ok(events.length > 10);
  return events;
}

test("nothing is sent before `ready`; then a snapshot; a burst of events becomes one update", async (t) => {
  const events = await recordedEvents();
  const tick = mockClock(t);
  const model = new RunModel();
  const b = new PanelBroadcaster(model, undefined, 20);
  const panel = new FakePanel();
  b.add(panel);
  model.apply(events[0]);
  b.scheduleUpdate();
  tick(40);
  assert.deepEqual(panel.received, [], "a page that has not said ready would drop messages");
  b.ready(panel);
  assert.deepEqual(panel.kinds(), ["snapshot"]);
  const first = panel.received[0] as Extract<HostToWebview, { kind: "snapshot" }>;
  assert.equal(first.snapshot.tensors.length, (events[0] as Extract<Event, { type: "hello" }>).tensors.length);

  for (const e of events.slice(1)) {
    model.apply(e);
    b.scheduleUpdate();
  }
  tick(19);
  assert.deepEqual(panel.kinds(), ["snapshot"], "held back for the interval");
  tick(1);
  assert.deepEqual(panel.kinds(), ["snapshot", "update"], "the burst is coalesced into one update");
  const seqs = panel.received.map((m) => (m as { seq: number }).seq);
  assert.ok(seqs[1] > seqs[0]);
  b.dispose();
});

test("a hidden panel gets nothing, and on show a snapshot with the latest state (not the missed updates)", async (t) => {
  const events = await recordedEvents();
  const tick = mockClock(t);
  const model = new RunModel();
  const b = new PanelBroadcaster(model, undefined, 10);
  const side = new FakePanel();
  const editor = new FakePanel();
  b.add(side);
  b.add(editor);
  b.ready(side);
  b.ready(editor);
  side.shown = false;
  b.visibilityChanged(side);
  for (const e of events) {
    model.apply(e);
    b.scheduleUpdate();
    tick(12);
  }
  tick(20);
  assert.deepEqual(side.kinds(), ["snapshot"], "hidden: nothing after the first snapshot");
  assert.equal(editor.kinds().filter((k) => k === "update").length, events.length, "the visible panel got every update");

  side.shown = true;
  b.visibilityChanged(side);
  const last = side.received.at(-1) as Extract<HostToWebview, { kind: "snapshot" }>;
  assert.equal(last.kind, "snapshot");
  const expected = new RunModel();
  for (const e of events) expected.apply(e);
  assert.deepEqual(last.snapshot, expected.snapshot(), "the snapshot is the whole current state");
  b.dispose();
});

test("a message that was not delivered is followed by a snapshot, not a gap", async (t) => {
  const events = await recordedEvents();
  const tick = mockClock(t);
  const model = new RunModel();
  const b = new PanelBroadcaster(model, undefined, 10);
  const panel = new FakePanel();
  b.add(panel);
  b.ready(panel);
  model.apply(events[0]);
  panel.deliver = false;
  b.flush();
  await settle(); // the post resolved false: the panel is stale again
  panel.deliver = true;
  model.apply(events[1]);
  b.scheduleUpdate();
  tick(30);
  assert.deepEqual(panel.kinds(), ["snapshot", "snapshot"]);
  b.dispose();
});

test("switching to a replay sends every ready panel the replay's snapshot", async () => {
  const events = await recordedEvents();
  const live = new RunModel();
  const b = new PanelBroadcaster(live, undefined, 10);
  const panel = new FakePanel();
  b.add(panel);
  b.ready(panel);
  const replay = new RunModel();
  for (const e of events) replay.apply(e);
  replay.setStatus("replay");
  b.setModel(replay);
  const last = panel.received.at(-1) as Extract<HostToWebview, { kind: "snapshot" }>;
  assert.equal(last.kind, "snapshot");
  assert.equal(last.snapshot.run?.status, "replay");
  assert.equal(last.snapshot.live, false);
  b.dispose();
});

test("throttle: a change after a quiet spell is sent at once; a burst within the interval becomes one update at its end", async (t) => {
  const events = await recordedEvents();
  const tick = mockClock(t);
  const model = new RunModel();
  const interval = 300;
  const b = new PanelBroadcaster(model, undefined, interval);
  const panel = new FakePanel();
  b.add(panel);
  b.ready(panel); // snapshot: counts as a send
  tick(interval + 20);
  model.apply(events[0]);
  b.scheduleUpdate();
  assert.deepEqual(panel.kinds(), ["snapshot"], "not within the same turn: the rest of a chunk of events joins it");
  tick(0);
  assert.deepEqual(panel.kinds(), ["snapshot", "update"], "leading edge: sent without waiting for the interval");

  for (const e of events.slice(1, 6)) {
    model.apply(e);
    b.scheduleUpdate();
  }
  tick(interval - 1);
  assert.equal(panel.received.length, 2, "within the interval: held back");
  tick(1);
  assert.deepEqual(panel.kinds(), ["snapshot", "update", "update"], "trailing edge: the burst as one update");
  b.dispose();
});
