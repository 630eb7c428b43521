// Resuming a run launches it the way it was launched: as many training processes as config.json records.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resumeLaunch } from "../../src/run/resumeLaunch";
import { writeRunConfig, type RunConfig } from "../../src/run/RunStore";

function runWithCheckpoint(runsDir: string, id: string): string {
  const dir = join(runsDir, id);
  mkdirSync(join(dir, "checkpoints"), { recursive: true });
  writeFileSync(join(dir, "checkpoints", "ckpt-00000010.pt"), "x");
  writeFileSync(join(dir, "checkpoints", "latest"), "ckpt-00000010.pt\n");
  return dir;
}

const recorded = (runId: string, processes?: number): RunConfig => ({
  runId, createdAt: "2026-01-01T00:00:00Z", command: "python3", args: [], cwd: "/", preset: "tiny", configFile: null,
  method: "hima", dataDir: "/data", maxSteps: 100, launchedBy: "vscode", ...(processes === undefined ? {} : { processes }),
});

test("a run launched with 4 processes resumes under torch.distributed.run with 4; a one-process or older run resumes plainly", async () => {
  const runsDir = mkdtempSync(join(tmpdir(), "hima-resume-"));
  try {
    const multi = runWithCheckpoint(runsDir, "multi");
    await writeRunConfig(multi, recorded("multi", 4));
    const launch = await resumeLaunch(runsDir, "multi", "/usr/bin/python3", runsDir);
    assert.deepEqual(launch.args, [
      "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "4",
      "-m", "hima", "train", "--resume", multi, "--out", multi, "--run-id", "multi",
    ]);

    const single = runWithCheckpoint(runsDir, "single");
    await writeRunConfig(single, recorded("single", 1));
    assert.deepEqual((await resumeLaunch(runsDir, "single", "python3", runsDir)).args.slice(0, 4), ["-m", "hima", "train", "--resume"]);

    const older = runWithCheckpoint(runsDir, "older"); // config.json from before processes was recorded, or none at all
    await writeRunConfig(older, recorded("older"));
    assert.equal((await resumeLaunch(runsDir, "older", "python3", runsDir)).args[1], "hima");
    runWithCheckpoint(runsDir, "bare");
    assert.equal((await resumeLaunch(runsDir, "bare", "python3", runsDir)).args[1], "hima");
  } finally {
    rmSync(runsDir, { recursive: true, force: true });
  }
});

test("a config.json with a process count that cannot be launched is refused, saying so", async () => {
  const runsDir = mkdtempSync(join(tmpdir(), "hima-resume-"));
  try {
    const dir = runWithCheckpoint(runsDir, "bad");
    for (const processes of [0, 2.5, 10_000, "4"]) {
      writeFileSync(join(dir, "config.json"), JSON.stringify({ ...recorded("bad"), processes }));
      await assert.rejects(resumeLaunch(runsDir, "bad", "python3", runsDir), /run bad cannot be resumed as recorded in its config\.json: the number of processes must be an integer/, `processes ${JSON.stringify(processes)}`);
    }
  } finally {
    rmSync(runsDir, { recursive: true, force: true });
  }
});
