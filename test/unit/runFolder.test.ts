// Run folders on the extension's side: created private whatever the umask (folder 0700, config.json and
// stderr.log 0600), and a symbolic link inside one is never followed: such a run is not offered by Resume
// Run (with the reason), cannot be resumed, and its files are neither read nor written through the link.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resumeLaunch } from "../../src/run/resumeLaunch";
import { resumableRuns } from "../../src/run/runDiscovery";
import { openForAppendSync } from "../../src/run/runFolderCheck";
import { listRuns, readRunEvents, writeRunConfig, type RunConfig } from "../../src/run/RunStore";

const mode = (path: string) => statSync(path).mode & 0o777;
const recorded = (runId: string): RunConfig => ({
  runId, createdAt: "2026-01-01T00:00:00Z", command: "python3", args: [], cwd: "/", preset: "tiny", configFile: null,
  method: "hima", dataDir: "/data", maxSteps: 100, launchedBy: "vscode",
});

function runWithCheckpoint(runsDir: string, id: string): string {
  const dir = join(runsDir, id);
  mkdirSync(join(dir, "checkpoints"), { recursive: true });
  writeFileSync(join(dir, "checkpoints", "ckpt-00000010.pt"), "x");
  writeFileSync(join(dir, "checkpoints", "latest"), "ckpt-00000010.pt\n");
  writeFileSync(join(dir, "events.jsonl"), "");
  return dir;
}

test("a run folder, its config.json and stderr.log are private even under umask 000", async () => {
  const previous = process.umask(0);
  try {
    const runsDir = mkdtempSync(join(tmpdir(), "hima-private-"));
    const runDir = join(runsDir, "runs", "r1");
    await writeRunConfig(runDir, recorded("r1"));
    closeSync(openForAppendSync(join(runDir, "stderr.log")));
    assert.deepEqual([mode(runDir), mode(join(runDir, "config.json")), mode(join(runDir, "stderr.log"))], [0o700, 0o600, 0o600]);
  } finally {
    process.umask(previous);
  }
});

test("a run with a linked event log or checkpoints folder is not offered for resuming, and says why", async () => {
  const runsDir = mkdtempSync(join(tmpdir(), "hima-links-"));
  const elsewhere = mkdtempSync(join(tmpdir(), "hima-elsewhere-"));
  writeFileSync(join(elsewhere, "notes.txt"), "my notes\n");
  runWithCheckpoint(runsDir, "good");
  const linkedLog = runWithCheckpoint(runsDir, "linked-log");
  execFileSync("rm", [join(linkedLog, "events.jsonl")]);
  symlinkSync(join(elsewhere, "notes.txt"), join(linkedLog, "events.jsonl"));
  const linkedCkpts = join(runsDir, "linked-ckpts");
  mkdirSync(linkedCkpts);
  writeFileSync(join(linkedCkpts, "events.jsonl"), "");
  mkdirSync(join(elsewhere, "dir"));
  writeFileSync(join(elsewhere, "dir", "ckpt-00000004.pt"), "x");
  writeFileSync(join(elsewhere, "dir", "latest"), "ckpt-00000004.pt\n");
  symlinkSync(join(elsewhere, "dir"), join(linkedCkpts, "checkpoints"));

  const refused: string[] = [];
  assert.deepEqual((await resumableRuns(runsDir, refused)).map((r) => r.id), ["good"]);
  assert.deepEqual(refused.sort(), [
    `linked-ckpts: ${join(linkedCkpts, "checkpoints")} is a symbolic link; HiMA does not follow links inside a run folder (remove it)`,
    `linked-log: ${join(linkedLog, "events.jsonl")} is a symbolic link; HiMA does not follow links inside a run folder (remove it)`,
  ]);
  await assert.rejects(resumeLaunch(runsDir, "linked-log", "python3", runsDir), /cannot be resumed: .*events\.jsonl is a symbolic link/);
  await assert.rejects(readRunEvents(linkedLog), /events\.jsonl is a symbolic link/);
  assert.ok((await listRuns(runsDir)).every((r) => r.steps === null), "nothing was read through the link");
  assert.equal(readFileSync(join(elsewhere, "notes.txt"), "utf8"), "my notes\n");
});

test("writing config.json through a link is refused and the target is untouched", async () => {
  const runsDir = mkdtempSync(join(tmpdir(), "hima-links-"));
  const target = join(runsDir, "precious.txt");
  writeFileSync(target, "keep me\n");
  const runDir = join(runsDir, "r2");
  mkdirSync(runDir);
  symlinkSync(target, join(runDir, "config.json"));
  await assert.rejects(writeRunConfig(runDir, recorded("r2")), /config\.json is a symbolic link/);
  assert.equal(readFileSync(target, "utf8"), "keep me\n");
});
