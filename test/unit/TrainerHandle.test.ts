// The parts both trainer handles (RunManager, DetachedRun) share: control lines checked against the schema
// before they are written, and the stop sequence's timing, driven by a mocked clock.
import { mock, test } from "node:test";
import assert from "node:assert/strict";
import { ControlLines, StopSequence, TERM_GRACE_MS, type TrainerExit } from "../../src/run/TrainerHandle";

test("control lines: a unique id and the protocol version, and a control the schema refuses is never written", () => {
  const lines = new ControlLines();
  const a = lines.next({ type: "pause" });
  const b = lines.next({ type: "set_cutoffs", hot: 0.2, warm: 0.5 });
  assert.notEqual(a.id, b.id);
  assert.deepEqual(JSON.parse(b.line), { v: 1, type: "set_cutoffs", hot: 0.2, warm: 0.5, id: b.id });
  assert.throws(() => lines.next({ type: "set_cutoffs", hot: 0.9, warm: 0.1 }), /must not exceed warm/);
  assert.throws(() => lines.next({ type: "pin", name: "x", tier: "lukewarm" } as never), /tier/);
});

function fakeHandle() {
  const sent: string[] = [];
  let failControl: ((id: string, reason: string) => void) | null = null;
  let resolveExit!: (e: TrainerExit) => void;
  const handle = {
    exited: new Promise<TrainerExit>((r) => (resolveExit = r)),
    sendControl: (c: { type: string }) => (sent.push(c.type), `id-${sent.length}`),
    onControlFailed: (cb: (id: string, reason: string) => void) => ((failControl = cb), () => (failControl = null)),
  };
  return { handle, sent, fail: () => failControl?.("id-1", "socket gone"), exit: () => resolveExit({ code: 0, signal: null, crashed: false, stderrTail: [], sawDone: true }) };
}

test("stop sequence: stop control, SIGTERM after the grace period, SIGKILL after the term grace; nothing once cancelled", () => {
  mock.timers.enable({ apis: ["setTimeout"] });
  try {
    const { handle, sent } = fakeHandle();
    const signals: Array<"SIGTERM" | "SIGKILL"> = [];
    const seq = new StopSequence(handle, (s) => signals.push(s));
    const first = seq.start(1000);
    assert.equal(seq.start(5), first, "a second stop is the same stop");
    assert.deepEqual([...sent], ["stop"]);
    mock.timers.tick(999);
    assert.deepEqual([...signals], []);
    mock.timers.tick(1);
    assert.deepEqual([...signals], ["SIGTERM"]);
    mock.timers.tick(TERM_GRACE_MS);
    assert.deepEqual([...signals], ["SIGTERM", "SIGKILL"]);

    const other = new StopSequence(fakeHandle().handle, (s) => signals.push(s));
    void other.start(1000);
    other.cancel();
    mock.timers.tick(10_000);
    assert.deepEqual([...signals], ["SIGTERM", "SIGKILL"], "the trainer ended: no signal");
  } finally {
    mock.timers.reset();
  }
});

test("stop sequence: a stop control that cannot be delivered signals at once", () => {
  mock.timers.enable({ apis: ["setTimeout"] });
  try {
    const { handle, fail } = fakeHandle();
    const signals: Array<"SIGTERM" | "SIGKILL"> = [];
    void new StopSequence(handle, (s) => signals.push(s), 50).start(60_000);
    fail();
    assert.deepEqual([...signals], ["SIGTERM"]);
    mock.timers.tick(50);
    assert.deepEqual([...signals], ["SIGTERM", "SIGKILL"]);
    mock.timers.tick(60_000);
    assert.deepEqual([...signals], ["SIGTERM", "SIGKILL"], "one escalation");
  } finally {
    mock.timers.reset();
  }
});
