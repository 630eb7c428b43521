import { test } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { isRunId } from "../../protocol/contract";
import { listRuns, newRunId, readRunEvents, runDirFor, writeRunConfig } from "../../src/run/RunStore";
import { REPO_ROOT, tempDir } from "../fixtures/runHelpers";

test("new run ids are valid, sortable by time and distinct", () => {
  const id = newRunId(new Date(2026, 10, 26, 12, 34, 56));
  assert.match(id, /^20261126-123456-[0-9a-f]{4}$/);
  assert.ok(isRunId(id));
  const ids = new Set(Array.from({ length: 200 }, () => newRunId(new Date(2026, 0, 1))));
  assert.ok(ids.size > 190);
});

test("a run id can never escape the runs folder", () => {
  const runs = tempDir();
  for (const bad of ["..", ".", "../x", "a/b", "a\\b", "", "-x", ".hidden", "x".repeat(129), "a\0b"]) {
    assert.throws(() => runDirFor(runs, bad), /invalid run id/, JSON.stringify(bad));
  }
  fc.assert(
    fc.property(fc.string(), (s) => {
      let dir: string;
      try {
        dir = runDirFor(runs, s);
      } catch {
        return;
      }
      assert.equal(dir, join(runs, s));
      assert.ok(!s.includes("/") && !s.includes(".."), s);
    }),
  );
});

test("listRuns finds runs newest first, with method, preset, steps and whether they finished", async () => {
  const runs = tempDir();
  const done = runDirFor(runs, "20260101-000000-aaaa");
  mkdirSync(done, { recursive: true });
  copyFileSync(join(REPO_ROOT, "test/fixtures/tiny-run.events.jsonl"), join(done, "events.jsonl"));

  const cut = runDirFor(runs, "20260102-000000-bbbb");
  await writeRunConfig(cut, {
    runId: "20260102-000000-bbbb", createdAt: "", command: "python3", args: [], cwd: "/", preset: "small", configFile: null,
    method: "hima-no-warm", dataDir: "/d", maxSteps: 10, launchedBy: "cli",
  });
  const lines = readFileSync(join(REPO_ROOT, "test/fixtures/fake-run.events.jsonl"), "utf8").split("\n").slice(0, 6);
  writeFileSync(join(cut, "events.jsonl"), lines.join("\n") + "\n{\"v\":1,\"type\":\"st"); // killed mid-line
  mkdirSync(join(runs, "not a run"));
  mkdirSync(join(runs, "empty-folder"));

  const list = await listRuns(runs);
  assert.deepEqual(list.map((r) => r.id).sort(), ["20260101-000000-aaaa", "20260102-000000-bbbb"]);
  const byId = Object.fromEntries(list.map((r) => [r.id, r]));
  assert.deepEqual(
    { method: byId["20260101-000000-aaaa"].method, preset: byId["20260101-000000-aaaa"].preset, steps: byId["20260101-000000-aaaa"].steps, status: byId["20260101-000000-aaaa"].status },
    { method: "hima", preset: "tiny", steps: 60, status: "done" },
  );
  assert.deepEqual(
    { method: byId["20260102-000000-bbbb"].method, preset: byId["20260102-000000-bbbb"].preset, status: byId["20260102-000000-bbbb"].status },
    { method: "hima-no-warm", preset: "small", status: "incomplete" },
  );
  assert.ok(list[0].mtime >= list[1].mtime);
  assert.deepEqual(await listRuns(join(runs, "missing")), []);

  const read = await readRunEvents(cut);
  assert.equal(read.events.length, 6);
  assert.equal(read.torn, true);
  assert.equal(read.skipped, 1);
});

test("readRunEvents skips lines that are not protocol events and counts them", async () => {
  const dir = tempDir();
  const file = join(dir, "events.jsonl");
  appendFileSync(file, '{"v":1,"type":"eval","step":5,"val_loss":3.2}\n');
  appendFileSync(file, '{"v":1,"type":"eval","step":"five","val_loss":3.2}\n');
  appendFileSync(file, "Warning: something\n");
  appendFileSync(file, '{"v":1,"type":"eval","step":6,"val_loss":3.1}\n');
  const r = await readRunEvents(dir);
  assert.deepEqual(r.events.map((e) => e.type === "eval" && e.step), [5, 6]);
  assert.equal(r.skipped, 2);
  assert.equal(r.torn, false);
});

test("listRuns: a resumed run is incomplete until its last segment ends, and symbolic links are not runs", async () => {
  const runs = tempDir();
  const log = readFileSync(join(REPO_ROOT, "test/fixtures/tiny-run.events.jsonl"), "utf8");
  const hello = log.split("\n")[0];
  const resumed = runDirFor(runs, "20260103-000000-cccc");
  mkdirSync(resumed, { recursive: true });
  writeFileSync(join(resumed, "events.jsonl"), log);
  assert.equal((await listRuns(runs))[0].status, "done");
  appendFileSync(join(resumed, "events.jsonl"), hello + "\n"); // a resumed segment starts
  assert.equal((await listRuns(runs))[0].status, "incomplete");

  const outside = tempDir();
  writeFileSync(join(outside, "events.jsonl"), log);
  symlinkSync(outside, join(runs, "20260104-000000-dddd"));
  assert.deepEqual((await listRuns(runs)).map((r) => r.id), ["20260103-000000-cccc"]);
});
