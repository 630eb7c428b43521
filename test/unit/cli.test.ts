// The headless main job: argument errors, the progress line, the summary, and whole `train` / `prepare`
// runs through runCli with the scripted fake trainer standing in for Python.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli } from "../../src/cli/runCli";
import { formatProgress, ProgressBar } from "../../src/cli/progress";
import { formatSummary } from "../../src/cli/summary";
import type { EventOf } from "../../protocol/protocol.generated";
import type { TrainerExit } from "../../src/run/TrainerHandle";
import { tempDir } from "../fixtures/runHelpers";
import { fakeWorkspace, memoryIO } from "./cliHelpers";

const counts = { hot: { tensors: 3, elements: 300 }, warm: { tensors: 2, elements: 200 }, cold: { tensors: 5, elements: 500 } };

test("the progress line shows step/max, loss, tokens/s, tier counts and ETA", () => {
  const line = formatProgress({ step: 120, maxSteps: 300, loss: 4.12345, tokensPerS: 12_345, counts, secondsPerStep: 0.5 });
  assert.match(line, /\[#{8}\.{12}\]\s+40%/);
  assert.match(line, /step 120\/300/);
  assert.match(line, /loss 4\.123/);
  assert.match(line, /12\.3k tok\/s/);
  assert.match(line, /Hot\/Warm\/Cold 3\/2\/5/);
  assert.match(line, /ETA 1:30/);
  assert.ok(formatProgress({ step: 1, maxSteps: 2, loss: null, tokensPerS: null, counts: null, secondsPerStep: null }, 20).length <= 20);
});

test("without a terminal the bar prints a plain line at each tenth, not every step", () => {
  const lines: string[] = [];
  let now = 0;
  const bar = new ProgressBar({ write: (t) => lines.push(t), isTTY: false }, () => now);
  bar.onEvent({ v: 1, type: "hello", run_id: "r", method: "hima", device: "cpu", dtype: "f32", max_steps: 100, start_step: 0, cutoffs: { hot: 0.3, warm: 0.6 }, model: { preset: "tiny", n_params: 1, n_layer: 1 }, config: {}, tensors: [] });
  for (let s = 1; s <= 100; s++) {
    now += 10;
    bar.onEvent({ v: 1, type: "step", step: s, loss: 3, lr: 1e-3, step_time_ms: 10, tokens_per_s: 100 });
  }
  assert.equal(lines.length, 11, lines.join(""));
  assert.ok(lines.every((l) => l.endsWith("\n") && !l.includes("\r")));
  assert.match(lines.at(-1)!, /100%\s+step 100\/100/);
});

test("on a terminal the bar redraws one line in place, and messages go above it", () => {
  const out: string[] = [];
  let now = 0;
  const bar = new ProgressBar({ write: (t) => out.push(t), isTTY: true, columns: 80 }, () => now);
  for (let s = 1; s <= 50; s++) {
    now += 50; // 20 events a second: redraws are capped at ~10/s
    bar.onEvent({ v: 1, type: "step", step: s, loss: 3, lr: 1e-3, step_time_ms: 50, tokens_per_s: 100 });
  }
  assert.ok(out.length >= 20 && out.length <= 30, `${out.length} redraws`);
  assert.ok(out.every((t) => t.startsWith("\r\x1b[2K") && !t.includes("\n") && t.length <= 80 + 5));
  bar.log("hima: stopping");
  assert.deepEqual(out.slice(-2), ["\r\x1b[2K", "hima: stopping\n"]);
  bar.onEvent({ v: 1, type: "step", step: 51, loss: 3, lr: 1e-3, step_time_ms: 50, tokens_per_s: 100 });
  bar.finish();
  assert.equal(out.at(-1), "\n", "the last bar stays on screen above the summary");
});

test("the summary reports tiers, optimizer state saved against full AdamW, losses and the run dir", () => {
  const exit: TrainerExit = { code: 0, signal: null, crashed: false, stderrTail: [], sawDone: true };
  const text = formatSummary({
    runId: "r1", runDir: "/runs/r1", hello: null, lastValLoss: null, exit, wallSeconds: 75,
    done: { v: 1, type: "done", step: 300, reason: "completed", summary: { wall_time_s: 70, first_loss: 8.3, last_loss: 5.1, last_val_loss: 5.4, counts, optimizer_state_bytes: 4_000_000, full_optimizer_state_bytes: 10_000_000, transitions: 17, checkpoint: null } },
  });
  assert.match(text, /completed at step 300/);
  assert.match(text, /8\.300 -> 5\.100.*val 5\.400/);
  assert.match(text, /Hot 3 tensors \(300 params, 30%\) · Warm 2 tensors .* · Cold 5 tensors \(500 params, 50%\)/);
  assert.match(text, /4\.00 MB of state held vs 10\.0 MB for full AdamW \(60\.0% saved\)/);
  assert.match(text, /17 tier changes/);
  assert.match(text, /run dir\s+\/runs\/r1/);

  const crashed = formatSummary({ runId: "r2", runDir: "/runs/r2", hello: null, done: null, lastValLoss: null, wallSeconds: 3, exit: { code: 1, signal: null, crashed: true, sawDone: false, stderrTail: ["ModuleNotFoundError: No module named 'torch'"] } });
  assert.match(crashed, /ended without finishing \(exit code 1\)/);
  assert.match(crashed, /No module named 'torch'/);
  assert.match(crashed, /hint .*scripts\/demo\.sh/);
});

test("a multi-process summary: processes, optimizer state per rank, the per-rank line as the panel words it, the trainer's fatal error", () => {
  const exit: TrainerExit = { code: 0, signal: null, crashed: false, stderrTail: [], sawDone: true };
  const hello: EventOf<"hello"> = { v: 1, type: "hello", run_id: "r", method: "hima", device: "cuda:0", dtype: "bf16", max_steps: 300, start_step: 0, cutoffs: { hot: 0.3, warm: 0.6 }, model: { preset: "small", n_params: 124e6, n_layer: 12 }, config: {}, tensors: [], nproc: 4 };
  const done: EventOf<"done"> = { v: 1, type: "done", step: 300, reason: "completed", summary: { wall_time_s: 70, first_loss: 8.3, last_loss: 5.1, last_val_loss: null, counts, optimizer_state_bytes: 4_000_000, full_optimizer_state_bytes: 10_000_000, transitions: 17, checkpoint: null } };
  const ranks = { min: 1.2 * 2 ** 30, max: 1.3 * 2 ** 30, nproc: 4, measure: "peak", allreducePerStep: 164 * 2 ** 20 } as const;
  const text = formatSummary({ runId: "r", runDir: "/runs/r", hello, done, lastValLoss: null, processes: 4, ranks, exit, wallSeconds: 80 });
  assert.match(text, /124\.0M params, 4 × cuda\)/);
  assert.match(text, /4\.00 MB of state held on each rank vs 10\.0 MB/);
  assert.match(text, /ranks\s+4 processes · peak memory per rank 1\.2–1\.3 GiB · all-reduce 164 MiB\/step/);

  const noRanks = formatSummary({ runId: "r", runDir: "/runs/r", hello: null, done: null, lastValLoss: null, processes: 3, ranks: null, fatalError: "batch_size 8 (the global batch) must be a multiple of the 3 processes", wallSeconds: 5, exit: { code: 1, signal: null, crashed: true, sawDone: false, stderrTail: ["torchrun failure report"] } });
  assert.match(noRanks, /ended without finishing \(exit code 1\)\n  error\s+batch_size 8 \(the global batch\) must be a multiple of the 3 processes/);
  assert.match(noRanks, /ranks\s+3 processes \(no per-rank memory reported\)/);

  const one = formatSummary({ runId: "r", runDir: "/runs/r", hello: { ...hello, device: "cpu", nproc: 1 }, done, lastValLoss: null, processes: 1, exit, wallSeconds: 80 });
  assert.match(one, /params, cpu\)/);
  assert.doesNotMatch(one, /ranks|each rank/);
});

test("bad usage exits 2 with the reason and the usage", async () => {
  const { cwd } = fakeWorkspace();
  for (const [argv, reason] of [
    [[], /no command given/],
    [["fly"], /unknown command "fly"/],
    [["train"], /--data <dir> is required/],
    [["train", "--data", "missing"], /lacks train\.bin, val\.bin, meta\.json/],
    [["train", "--data", "data", "--max-steps", "ten"], /--max-steps must be an integer >= 1/],
    [["train", "--data", "data", "--hot", "0.7", "--warm", "0.2"], /hot \(0\.7\) must not exceed warm \(0\.2\)/],
    [["train", "--data", "data", "--method", "magic"], /unknown method "magic"/],
    [["train", "--data", "data", "--bogus", "1"], /unknown option --bogus/],
    [["train", "--data", "data", "--processes", "0"], /--processes must be an integer from 1 to 64, got "0"/],
    [["train", "--data", "data", "--processes", "65"], /--processes must be an integer from 1 to 64, got "65"/],
    [["train", "--data", "data", "--processes", "two"], /--processes must be an integer from 1 to 64, got "two"/],
    [["prepare", "--source", "brown"], /--source and --out are required/],
  ] as const) {
    const m = memoryIO(cwd);
    assert.equal(await runCli(argv, m.io), 2, argv.join(" "));
    assert.match(m.err(), reason);
    assert.match(m.err(), /usage: hima train/);
  }
});

test("train runs the trainer to done, prints the summary and keeps the run folder", async () => {
  const { cwd, python } = fakeWorkspace();
  process.env.FAKE_STEP_MS = "2";
  const m = memoryIO(cwd);
  const code = await runCli(["train", "--data", "data", "--max-steps", "20", "--python", python, "--hot", "0.2", "--warm", "0.5"], m.io);
  assert.equal(code, 0, m.err());
  assert.match(m.out(), /completed at step 20\/20/);
  assert.match(m.out(), /% saved\)/);
  const [runId] = readdirSync(join(cwd, ".hima/runs"));
  const runDir = join(cwd, ".hima/runs", runId);
  assert.match(m.out(), new RegExp(`run dir\\s+${runDir}`));
  for (const f of ["config.json", "events.jsonl", "stderr.log"]) assert.ok(existsSync(join(runDir, f)), f);
  const config = JSON.parse(readFileSync(join(runDir, "config.json"), "utf8"));
  assert.deepEqual([config.preset, config.maxSteps, config.launchedBy], ["tiny", 20, "cli"]);
  assert.ok(config.args.includes("--hot") && config.args.includes("0.2"));
  assert.match(m.err(), /100%\s+step 20\/20/);
});

test("Ctrl-C stops the run gracefully: the trainer finishes with done(stopped), exit 0", async () => {
  const { cwd, python } = fakeWorkspace();
  process.env.FAKE_STEP_MS = "20";
  const m = memoryIO(cwd);
  const running = runCli(["train", "--data", "data", "--max-steps", "100000", "--python", python], m.io);
  while (!/step [1-9]/.test(m.err())) await new Promise((r) => setTimeout(r, 20));
  m.interrupt();
  assert.equal(await running, 0, m.err());
  assert.match(m.err(), /stopping after this step/);
  assert.match(m.out(), /stopped at step \d+\/100000/);
});

test("a crashing trainer exits 1 and shows its stderr tail", async () => {
  const { cwd, python } = fakeWorkspace();
  process.env.FAKE_STEP_MS = "2";
  process.env.FAKE_CRASH_AT = "3";
  try {
    const m = memoryIO(cwd);
    assert.equal(await runCli(["train", "--data", "data", "--python", python], m.io), 1);
    assert.match(m.out(), /ended without finishing \(exit code 3\)/);
    assert.match(m.out(), /RuntimeError: fake crash at step 3/);
  } finally {
    delete process.env.FAKE_CRASH_AT;
  }
});

test("prepare writes token files from a folder, and --if-missing skips a folder already prepared", async () => {
  const cwd = tempDir("hima-prep-");
  mkdirSync(join(cwd, "texts"));
  writeFileSync(join(cwd, "texts", "a.txt"), "The quick brown fox jumps over the lazy dog. ".repeat(50));
  writeFileSync(join(cwd, "texts", "b.txt"), "A second document, with other words in it. ".repeat(50));
  let m = memoryIO(cwd);
  assert.equal(await runCli(["prepare", "--source", "texts", "--out", "tok", "--vocab", "64", "--if-missing"], m.io), 0, m.err());
  assert.match(m.out(), /prepared folder:.* train \/ .* val tokens, vocab 64/);
  const meta = JSON.parse(readFileSync(join(cwd, "tok", "meta.json"), "utf8"));
  assert.equal(meta.vocab_size, 64);
  assert.equal(readFileSync(join(cwd, "tok", "train.bin")).length, meta.n_train * 2);

  m = memoryIO(cwd);
  assert.equal(await runCli(["prepare", "--source", "texts", "--out", "tok", "--vocab", "64", "--if-missing"], m.io), 0);
  assert.match(m.err(), /already prepared/);
  m = memoryIO(cwd);
  assert.equal(await runCli(["prepare", "--source", "texts", "--out", "tok", "--vocab", "128", "--if-missing"], m.io), 0);
  assert.doesNotMatch(m.err(), /already prepared/, "a different vocabulary is prepared again");
});
