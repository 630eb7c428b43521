// `node dist/cli.js train` with the real trainer on CPU (tiny preset): a config file the trainer refuses leaves
// no run folder (exit 2, the reason); a running CLI run serves its control socket, and a window that did not
// start it steers it as the panel does (set_cutoffs, acked); Ctrl-C prints the resume command, and that command
// continues the run in its folder.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, tempDir, writeSyntheticTokens } from "../fixtures/runHelpers";
import { steerLikeThePanel } from "./cliHelpers";

const python = existsSync(join(REPO_ROOT, ".venv/bin/python")) ? join(REPO_ROOT, ".venv/bin/python") : "python3";
const probe = spawnSync(python, ["-c", "import hima.app.train"], { encoding: "utf8" });
const skip = probe.status === 0 ? false : `the trainer is not importable with ${python}`;
const CLI = join(REPO_ROOT, "dist/cli.js");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const events = (runDir: string) =>
  readFileSync(join(runDir, "events.jsonl"), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as { type: string; step?: number; reason?: string; start_step?: number });

function workspace(): string {
  const cwd = tempDir("hima-cli-real-");
  mkdirSync(join(cwd, "data"));
  writeSyntheticTokens(join(cwd, "data"), { nTrain: 1000, nVal: 200 });
  return cwd;
}

function cli(cwd: string, args: string[]) {
  const child = spawn(process.execPath, [CLI, "train", "--python", python, ...args], { cwd, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += String(d)));
  child.stderr.on("data", (d) => (stderr += String(d)));
  const exited = new Promise<number | null>((r) => child.on("close", (code) => r(code)));
  return { child, exited, out: () => stdout, err: () => stderr };
}

test("a config file the trainer refuses: exit 2 with its reason, and no run folder", { skip, timeout: 120_000 }, async () => {
  const cwd = workspace();
  writeFileSync(join(cwd, "bad.hima.json"), JSON.stringify({ hot: 0.9, warm: 0.3 }));
  const run = cli(cwd, ["--data", "data", "--config", "bad.hima.json", "--device", "cpu"]);
  assert.equal(await run.exited, 2, run.err());
  assert.match(run.err(), /hot <= warm/);
  assert.match(run.err(), /no run was started/);
  assert.ok(!existsSync(join(cwd, ".hima")), `a run folder was left: ${run.err()}`);
});

test("a CLI run is steered through its socket like the panel's own, and Ctrl-C's resume command continues it", { skip, timeout: 240_000 }, async () => {
  const cwd = workspace();
  const runs = join(cwd, ".hima/runs");
  const first = cli(cwd, ["--data", "data", "--device", "cpu", "--max-steps", "100000"]);
  let runId = "";
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline && !runId) {
    const [id] = existsSync(runs) ? readdirSync(runs) : [];
    if (id && existsSync(join(runs, id, "events.jsonl")) && events(join(runs, id)).some((e) => e.type === "step")) runId = id;
    else await sleep(100);
  }
  assert.ok(runId, `no step within 120 s:\n${first.err()}`);
  const runDir = join(runs, runId);

  const ack = await steerLikeThePanel(runs, runId, 60_000);
  assert.equal(ack.control, "set_cutoffs");
  assert.ok(ack.effective_step >= 1);

  first.child.kill("SIGINT");
  assert.equal(await first.exited, 0, first.err());
  const resume = first.err().match(/hima: to continue this run later: (node \S+ train --resume \S+)\n/);
  assert.ok(resume, first.err());
  assert.equal(resume[1], `node ${CLI} train --resume ${runDir}`);
  const stopped = events(runDir).at(-1);
  assert.equal(stopped?.reason, "stopped");

  // The printed command, run as printed (plus a short length so it ends), from the same folder.
  const [, script, ...rest] = resume[1].split(" ");
  const target = (stopped?.step ?? 0) + 2;
  const again = spawn(process.execPath, [script, ...rest, "--max-steps", String(target), "--python", python], { cwd, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  again.stdout.on("data", (d) => (out += String(d)));
  again.stderr.on("data", (d) => (err += String(d)));
  assert.equal(await new Promise((r) => again.on("close", r)), 0, err);
  assert.match(out, new RegExp(`HiMA run ${runId}: completed at step ${target}/${target}`));
  const hellos = events(runDir).filter((e) => e.type === "hello");
  assert.deepEqual(hellos.map((h) => h.start_step), [0, stopped?.step]);
});
