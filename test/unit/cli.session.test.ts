// `hima train` around the run itself, with the scripted fake trainer standing in for Python: a refused
// configuration leaves no run folder, the run is steered through its socket as the panel steers it, Ctrl-C
// names the resume command and `--resume` continues the run in its folder, alerts are lines above the progress bar, and the bar draws when the terminal reports no width.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { runCli } from "../../src/cli/runCli";
import { ProgressBar } from "../../src/cli/progress";
import type { Event } from "../../protocol/protocol.generated";
import { fakeWorkspace, memoryIO, steerLikeThePanel } from "./cliHelpers";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function withEnv<T>(vars: Record<string, string>, body: () => Promise<T>): Promise<T> {
  const before = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await body();
  } finally {
    for (const [k, v] of Object.entries(before)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

const events = (runDir: string) => readFileSync(join(runDir, "events.jsonl"), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as Event);

test("the progress bar draws a whole line when the terminal reports 0 columns or none", () => {
  for (const columns of [0, undefined, Number.NaN]) {
    const written: string[] = [];
    const bar = new ProgressBar({ write: (t) => written.push(t), isTTY: true, columns }, () => 0);
    bar.onEvent({ v: 1, type: "hello", run_id: "r", method: "hima", device: "cpu", dtype: "float32", max_steps: 10, start_step: 0, cutoffs: { hot: 0.3, warm: 0.6 }, model: { preset: "tiny", n_params: 1, n_layer: 1 }, config: {}, tensors: [] });
    bar.onEvent({ v: 1, type: "step", step: 10, loss: 2.5, lr: 1e-3, step_time_ms: 10, tokens_per_s: 900 });
    const last = written.at(-1) ?? "";
    assert.match(last, /^\r\x1b\[2K\[#{20}\] 100%\s+step 10\/10\s+loss 2\.500/, `columns ${columns}: ${JSON.stringify(last)}`);
  }
});

test("a configuration the trainer refuses: exit 2, its reason, and no run folder", async () => {
  const { cwd, python } = fakeWorkspace();
  const m = memoryIO(cwd);
  const code = await withEnv({ FAKE_CHECK_REFUSE: "config file bad.hima.json: unknown key(s) learning_rate" }, () =>
    runCli(["train", "--data", "data", "--python", python], m.io));
  assert.equal(code, 2, m.err());
  assert.match(m.err(), /hima: config file bad\.hima\.json: unknown key\(s\) learning_rate\nhima: no run was started/);
  assert.ok(!existsSync(join(cwd, ".hima")), "nothing written to the runs folder");
});

test("Ctrl-C names the resume command; `train --resume RUN_DIR` continues the run in its folder from its checkpoint", async () => {
  const { cwd, python } = fakeWorkspace();
  await withEnv({ FAKE_STEP_MS: "15" }, async () => {
    const m = memoryIO(cwd);
    m.io.invocation = "node dist/cli.js";
    const running = runCli(["train", "--data", "data", "--max-steps", "100000", "--python", python], m.io);
    while (!/step [1-9]/.test(m.err())) await sleep(20);
    const [runId] = readdirSync(join(cwd, ".hima/runs"));
    const runDir = join(cwd, ".hima/runs", runId);
    // The CLI's trainer serves the run's socket: a window that did not start it steers it as the panel does.
    const ack = await steerLikeThePanel(join(cwd, ".hima/runs"), runId, 10_000);
    assert.equal(ack.control, "set_cutoffs");
    m.interrupt();
    assert.equal(await running, 0, m.err());
    const command = `node dist/cli.js train --resume ${runDir}`;
    assert.ok(m.err().includes(`hima: to continue this run later: ${command}\n`), m.err());
    assert.match(m.out(), new RegExp(`resume\\s+${command.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}`));
    const stoppedAt = (events(runDir).at(-1) as Extract<Event, { type: "done" }>).step;

    const r = memoryIO(cwd);
    assert.equal(await runCli(["train", "--resume", runDir, "--max-steps", String(stoppedAt + 3), "--python", python], r.io), 0, r.err());
    assert.match(r.out(), new RegExp(`HiMA run ${runId}: completed at step ${stoppedAt + 3}/${stoppedAt + 3}`));
    const all = events(runDir);
    const hellos = all.filter((e) => e.type === "hello") as Array<Extract<Event, { type: "hello" }>>;
    assert.deepEqual(hellos.map((h) => h.start_step), [0, stoppedAt], "one log: the resumed trainer appended to it");
    assert.equal(readdirSync(join(cwd, ".hima/runs")).length, 1, "no new run folder");
  });
});

test("--resume refuses what it cannot do, before starting anything", async () => {
  const { cwd, python } = fakeWorkspace();
  for (const [argv, reason] of [
    [["train", "--resume", "nowhere"], /--resume: no run folder .*nowhere/],
    [["train", "--resume", "data", "--python", python], /cannot be resumed|no checkpoint/],
    [["train", "--resume", "data", "--data", "data"], /--data cannot be given with --resume/],
    [["train", "--resume", "data", "--hot", "0.2"], /--hot cannot be given with --resume/],
  ] as const) {
    const m = memoryIO(cwd);
    assert.equal(await runCli(argv, m.io), 2, argv.join(" "));
    assert.match(m.err(), reason);
  }
});

test("alerts are lines above the progress bar: a NaN loss, then a loss far above its smoothed value, once each", async () => {
  const { cwd, python } = fakeWorkspace();
  // 20 falling losses, a NaN (the trainer goes on, as hima.monitor's loops may), then a run-away loss.
  const losses = [...Array.from({ length: 20 }, (_, i) => (4 - i * 0.1).toFixed(2)), "nan", "3", "2.1", "9", "9.5", "10"];
  const m = memoryIO(cwd, true);
  const code = await withEnv({ FAKE_STEP_MS: "2", FAKE_LOSSES: losses.join(",") }, () =>
    runCli(["train", "--data", "data", "--max-steps", "40", "--python", python], m.io));
  assert.equal(code, 0, m.err());
  const err = m.err();
  const nan = err.match(/hima: alert \(non finite loss\): loss became NaN at step 21\n/g) ?? [];
  const divergence = err.match(/hima: alert \(divergence\): loss 10\.00 at step 26 is far above its smoothed value/g) ?? [];
  assert.equal(nan.length, 1, err);
  assert.equal(divergence.length, 1, err);
  // Printed above the bar: the bar's line was cleared first, so the alert starts a line of its own.
  assert.match(err, /\r\x1b\[2Khima: alert \(divergence\)/);
  assert.equal((err.match(/hima: alert/g) ?? []).length, 2, "the loss stays at 10 for 14 more steps: no repeat");
});
