// Following a growing events.jsonl: appended bytes in any pieces, a last line still being written, a log
// that appears late, history flagged as replayed, and bounded memory for an over-long line.
import { test } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Event } from "../../protocol/protocol.generated";
import { EventLogFollower } from "../../src/run/EventLogFollower";
import { tempDir } from "../fixtures/runHelpers";
import { sleep } from "./detachedHelpers";

const step = (n: number) => JSON.stringify({ v: 1, type: "step", step: n, loss: 1 / n, lr: 1e-3, step_time_ms: 1, tokens_per_s: 100 });

function follow(file: string, opts: { replayUntil?: number; maxLineBytes?: number } = {}) {
  const events: Array<{ e: Event; replayed: boolean }> = [];
  const noise: string[] = [];
  const f = new EventLogFollower(file, (e, replayed) => events.push({ e, replayed }), (_t, reason) => noise.push(reason), { pollMs: 20, ...opts });
  return { f, events, noise };
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await sleep(10);
  }
}

test("follows a log that appears late and grows in arbitrary pieces; a half-written line waits for its newline", async () => {
  const file = join(tempDir(), "events.jsonl");
  const { f, events, noise } = follow(file);
  f.start();
  await sleep(60);
  assert.equal(events.length, 0);
  writeFileSync(file, `${step(1)}\n${step(2).slice(0, 17)}`); // step 2 is torn for now
  await until(() => events.length === 1);
  await sleep(100);
  assert.equal(events.length, 1, "the torn line is not delivered, nor reported, while it may still complete");
  assert.deepEqual(noise, []);
  appendFileSync(file, `${step(2).slice(17)}\n${step(3)}\n`);
  await until(() => events.length === 3);
  assert.deepEqual(events.map((x) => (x.e.type === "step" ? x.e.step : -1)), [1, 2, 3]);
  assert.deepEqual(noise, []);
  await f.close({ final: true });
});

test("a line still torn when following ends (the trainer died mid-write) is reported torn, never parsed", async () => {
  const file = join(tempDir(), "events.jsonl");
  writeFileSync(file, `${step(1)}\n{"v":1,"type":"step","step":2,"lo`);
  const { f, events, noise } = follow(file);
  f.start();
  await until(() => events.length === 1);
  await f.close({ final: true });
  assert.equal(events.length, 1);
  assert.equal(noise.length, 1);
  assert.match(noise[0], /torn/);
});

test("events already in the log are flagged replayed, later ones not, also for a line straddling the boundary", async () => {
  const file = join(tempDir(), "events.jsonl");
  const history = `${step(1)}\n${step(2)}\n${step(3).slice(0, 10)}`;
  writeFileSync(file, history);
  const { f, events } = follow(file, { replayUntil: Buffer.byteLength(history) });
  f.start();
  await until(() => events.length === 2);
  appendFileSync(file, `${step(3).slice(10)}\n${step(4)}\n`);
  await until(() => events.length === 4);
  assert.deepEqual(events.map((x) => x.replayed), [true, true, false, false]);
  await f.close();
});

test("an over-long line is skipped and reported while the follower holds at most the cap, and following goes on", async () => {
  const file = join(tempDir(), "events.jsonl");
  const { f, events, noise } = follow(file, { maxLineBytes: 64 * 1024 });
  f.start();
  writeFileSync(file, `${step(1)}\n{"v":1,"type":"step","junk":"${"x".repeat(1024 * 1024)}"}\n${step(2)}\n`);
  await until(() => events.length === 2);
  assert.equal(noise.length, 1);
  assert.match(noise[0], /line too long/);
  await f.close({ final: true });
});

test("lines that are not valid events are reported and skipped", async () => {
  const file = join(tempDir(), "events.jsonl");
  writeFileSync(file, `not json\n{"v":1,"type":"nope"}\n${step(1)}\n`);
  const { f, events, noise } = follow(file);
  f.start();
  await until(() => events.length === 1);
  assert.equal(noise.length, 2);
  await f.close({ final: true });
});
