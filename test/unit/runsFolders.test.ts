// Several runs folders (hima.runsFolder + hima.runsFolders) and HiMA: Open Run Folder…'s check of a picked
// folder: bad settings and bad folders give a sentence the user reads, never an exception, and nothing is
// followed through a symbolic link inside a run folder.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openableRunFolder } from "../../src/run/runDiscovery";
import { resolveRunsFolders } from "../../src/run/runsFolders";
import { tempDir } from "../fixtures/runHelpers";

function workspace(): string {
  const ws = tempDir("hima-folders-");
  mkdirSync(join(ws, "runs"));
  mkdirSync(join(ws, "own", "runs"), { recursive: true });
  writeFileSync(join(ws, "notes.txt"), "not a folder");
  return ws;
}

test("runs folders: the default first (even before it exists), then each listed folder once, relative to the workspace", () => {
  const ws = workspace();
  const r = resolveRunsFolders(join(ws, ".hima/runs"), ["runs", join(ws, "own/runs"), "./runs", " own/runs "], ws);
  assert.deepEqual(r.folders, [join(ws, ".hima/runs"), join(ws, "runs"), join(ws, "own/runs")]);
  assert.deepEqual(r.problems, []);
  assert.deepEqual(resolveRunsFolders(join(ws, "runs"), ["runs"], ws).folders, [join(ws, "runs")], "the default named again");
  assert.deepEqual(resolveRunsFolders(join(ws, "runs"), undefined, ws), { folders: [join(ws, "runs")], problems: [] });
});

test("runs folders: a missing folder, a file, a non-path entry or a non-list is skipped with a reason", () => {
  const ws = workspace();
  const r = resolveRunsFolders(join(ws, ".hima/runs"), ["missing", "notes.txt", 42, "", null, "runs"], ws);
  assert.deepEqual(r.folders, [join(ws, ".hima/runs"), join(ws, "runs")], "the good entry is still listed");
  assert.equal(r.problems.length, 5);
  assert.match(r.problems[0], /hima\.runsFolders\[0\]: .*missing does not exist/);
  assert.match(r.problems[1], /hima\.runsFolders\[1\]: .*notes\.txt is not a folder/);
  assert.match(r.problems[2], /hima\.runsFolders\[2\] is number 42, not a folder path/);
  assert.match(r.problems[3], /hima\.runsFolders\[3\] is empty/);
  assert.match(r.problems[4], /hima\.runsFolders\[4\] is null/);
  assert.deepEqual(resolveRunsFolders(join(ws, "runs"), "runs", ws).problems, ["hima.runsFolders must be a list of folder paths, not string \"runs\""]);
  assert.match(resolveRunsFolders(join(ws, "runs"), { a: 1 }, ws).problems[0], /not an object/);
  const noWorkspace = resolveRunsFolders(join(ws, "runs"), ["runs"], undefined);
  assert.match(noWorkspace.problems[0], /relative and no workspace folder is open/);
  const fileAsDefault = resolveRunsFolders(join(ws, "notes.txt"), [], ws);
  assert.deepEqual(fileAsDefault.folders, []);
  assert.match(fileAsDefault.problems[0], /^hima\.runsFolder: .*notes\.txt is not a folder/);
});

test("Open Run Folder: a run folder gives its id; a runs folder, an empty folder, a file, a missing path or a linked log give reasons", async () => {
  const ws = workspace();
  const run = join(ws, "runs", "own-loop");
  mkdirSync(run);
  writeFileSync(join(run, "events.jsonl"), "");
  assert.deepEqual(await openableRunFolder(run), { id: "own-loop" });
  assert.match(String(await openableRunFolder(join(ws, "runs"))), /is a folder of runs \(1\), not a run: .*hima\.runsFolders/);
  assert.match(String(await openableRunFolder(join(ws, "own"))), /is not a run folder: it has no events\.jsonl/);
  assert.match(String(await openableRunFolder(join(ws, "notes.txt"))), /is not a folder/);
  assert.match(String(await openableRunFolder(join(ws, "nowhere"))), /does not exist/);

  // A folder whose name is not a run id takes the record's run id; a writer that has not logged yet is a run.
  const odd = join(ws, "my run (copy)");
  mkdirSync(odd);
  writeFileSync(join(odd, "trainer.json"), JSON.stringify({ pid: 4242, run_id: "cnn-1", writer: "monitor" }));
  assert.deepEqual(await openableRunFolder(odd), { id: "cnn-1" });

  const linked = join(ws, "runs", "linked");
  mkdirSync(linked);
  symlinkSync(join(ws, "notes.txt"), join(linked, "events.jsonl"));
  assert.match(String(await openableRunFolder(linked)), /events\.jsonl is a symbolic link; HiMA does not follow links/);
});
