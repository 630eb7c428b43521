// The trainer does not outlive a killed CLI: `node dist/cli.js train` is SIGKILLed mid-run (nothing of it
// runs any more: no Ctrl-C handler, no stop control) and its trainer stops by itself, gracefully (done
// "stopped", exit), instead of training on re-parented with nobody to stop it. Real trainer, tiny preset.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, tempDir, writeSyntheticTokens } from "../fixtures/runHelpers";

const python = existsSync(join(REPO_ROOT, ".venv/bin/python")) ? join(REPO_ROOT, ".venv/bin/python") : "python3";
const probe = spawnSync(python, ["-c", "import hima.app.train"], { encoding: "utf8" });
const skip = probe.status === 0 ? false : `the trainer is not importable with ${python}`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
};
const events = (runDir: string) =>
  readFileSync(join(runDir, "events.jsonl"), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as { type: string; step?: number; reason?: string });

test("a SIGKILLed CLI's trainer stops by itself: done 'stopped', process gone", { skip, timeout: 120_000 }, async () => {
  const cwd = tempDir("hima-cli-killed-");
  mkdirSync(join(cwd, "data"));
  writeSyntheticTokens(join(cwd, "data"), { nTrain: 1000, nVal: 200 });
  const cli = spawn(process.execPath, [join(REPO_ROOT, "dist/cli.js"), "train", "--data", "data", "--device", "cpu", "--python", python, "--max-steps", "100000"],
    { cwd, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  cli.stderr.on("data", (d) => (stderr += String(d)));
  const runs = join(cwd, ".hima/runs");
  let runDir = "";
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    const [id] = existsSync(runs) ? readdirSync(runs) : [];
    runDir = id ? join(runs, id) : "";
    if (runDir && existsSync(join(runDir, "events.jsonl")) && events(runDir).some((e) => e.type === "step")) break;
    await sleep(100);
  }
  assert.ok(runDir && events(runDir).some((e) => e.type === "step"), `no step within 90 s:\n${stderr}`);
  const trainer = (JSON.parse(readFileSync(join(runDir, "trainer.json"), "utf8")) as { pid: number }).pid;
  cli.kill("SIGKILL");

  const gone = Date.now() + 30_000;
  while (alive(trainer) && Date.now() < gone) await sleep(100);
  assert.ok(!alive(trainer), "the trainer still runs 30 s after its CLI was killed");
  const done = events(runDir).at(-1);
  assert.equal(done?.type, "done", JSON.stringify(done));
  assert.equal(done?.reason, "stopped");
});
