// `hima train --processes 2` for real: the CLI launches the trainer under torchrun (gloo on CPU, tiny preset,
// the synthetic token fixture), and the summary says how many processes ran, their memory spread and the
// all-reduce traffic; a global batch the processes cannot split fails with the trainer's reason in the
// summary; Ctrl-C stops every rank cleanly. Skipped, with the reason, when the trainer or torch.distributed
// cannot be imported.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { runCli } from "../../src/cli/runCli";
import { REPO_ROOT, tempDir, writeSyntheticTokens } from "../fixtures/runHelpers";
import { memoryIO } from "./cliHelpers";
import { processesNaming } from "./launchHelpers";

const python = existsSync(join(REPO_ROOT, ".venv/bin/python")) ? join(REPO_ROOT, ".venv/bin/python") : "python3";
const probe = spawnSync(python, ["-c", "import hima.app.train, torch.distributed.run"], { encoding: "utf8" });
const skip =
  process.platform !== "linux" ? "needs /proc to look for leftover ranks"
  : probe.status === 0 ? false
  : `the trainer or torch.distributed is not importable (${python}: ${(probe.stderr || probe.error?.message || "").trim().split("\n").at(-1)})`;

/** A workspace with the synthetic token files in data/, and the CLI's output kept in memory. */
function workspace(isTTY = false): ReturnType<typeof memoryIO> & { cwd: string } {
  const cwd = tempDir("hima-cli-procs-");
  mkdirSync(join(cwd, "data"));
  writeSyntheticTokens(join(cwd, "data"), { nTrain: 1000, nVal: 200 });
  return { cwd, ...memoryIO(cwd, isTTY) };
}

function onlyRunDir(cwd: string): string {
  const [runId] = readdirSync(join(cwd, ".hima/runs"));
  return join(cwd, ".hima/runs", runId);
}

const train = (extra: string[]) => ["train", "--data", "data", "--device", "cpu", "--python", python, ...extra];

test("train --processes 2 runs both ranks under torchrun; the summary names the processes, memory per rank and all-reduce", { skip, timeout: 60_000 }, async () => {
  const m = workspace();
  const code = await runCli(train(["--max-steps", "4", "--processes", "2"]), m.io);
  const runDir = onlyRunDir(m.cwd);
  assert.equal(code, 0, `${m.out()}\n${m.err()}`);
  assert.match(m.err(), /-m torch\.distributed\.run --standalone --nproc-per-node 2 -m hima train /);
  assert.match(m.err(), /100%\s+step 4\/4 .* tok\/s \(2 procs\)/);
  assert.match(m.out(), /completed at step 4\/4 .*2 × cpu\)/);
  assert.match(m.out(), /state held on each rank/);
  assert.match(m.out(), /ranks\s+2 processes · resident memory per rank [\d.]+(–[\d.]+ MiB| MiB on every rank) · all-reduce [\d.]+ (KiB|MiB)\/step/);
  assert.equal(JSON.parse(readFileSync(join(runDir, "config.json"), "utf8")).processes, 2);
  assert.equal((readFileSync(join(runDir, "stderr.log"), "utf8").match(/done \(completed\) at step 4/g) ?? []).length, 2, "both ranks finished");
});

test("train --processes 3 with the tiny preset's batch of 8: exit 1, the trainer's reason in the summary", { skip, timeout: 60_000 }, async () => {
  const m = workspace();
  assert.equal(await runCli(train(["--max-steps", "4", "--processes", "3"]), m.io), 1, m.out());
  assert.match(m.out(), /ended without finishing/);
  assert.match(m.out(), /error\s+batch_size 8 \(the global batch\) must be a multiple of the 3 processes/);
  assert.match(m.out(), /ranks\s+3 processes/);
});

test("Ctrl-C during train --processes 2: every rank stops at the same step, exit 0, no process left", { skip, timeout: 60_000 }, async () => {
  const m = workspace(true); // a terminal: the bar redraws every step (on a pipe it prints every 10%)
  const running = runCli(train(["--max-steps", "5000", "--processes", "2"]), m.io);
  const deadline = Date.now() + 45_000;
  while (!/step [1-9]/.test(m.err()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.match(m.err(), /step [1-9]/, "the run reached a step");
  m.interrupt();
  const code = await running;
  const runDir = onlyRunDir(m.cwd);
  const stderr = readFileSync(join(runDir, "stderr.log"), "utf8");
  assert.equal(code, 0, `${m.out()}\n${stderr.slice(-2000)}`);
  assert.match(m.err(), /stopping after this step .*\(every process\)/);
  const stopped = m.out().match(/stopped at step (\d+)\/5000/);
  assert.ok(stopped, m.out());
  assert.deepEqual(stderr.match(/done \(stopped\) at step \d+/g), [`done (stopped) at step ${stopped[1]}`, `done (stopped) at step ${stopped[1]}`], "both ranks stopped at the agreed step");
  assert.doesNotMatch(stderr, /SignalException/, "torchrun was not signalled: the stop control did it");
  assert.deepEqual(processesNaming(runDir), [], "no process of the run is left");
});
