// Run records, the comparison against a baseline, the CSV export and the `hima compare` / `hima export`
// commands, on hand-made run folders whose figures are known exactly (test/fixtures/compareRuns.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli } from "../../src/cli/runCli";
import { compareRuns, configDiff, formatComparison } from "../../src/runs/compare";
import { runCsv } from "../../src/runs/exportCsv";
import { foldRun, readRunRecord } from "../../src/runs/runRecord";
import { readRunMeta, writeRunMeta, checkRunMeta, parseTags } from "../../src/runs/runMeta";
import { RunsLibrary, SUMMARY_CACHE_FILE } from "../../src/runs/runsLibrary";
import { BASELINE, HIMA, handRunEvents, writeHandRun } from "../fixtures/compareRuns";
import { tempDir } from "../fixtures/runHelpers";
import { memoryIO } from "./cliHelpers";

function twoRuns() {
  const runs = tempDir("hima-compare-");
  return { runs, base: writeHandRun(runs, BASELINE), hima: writeHandRun(runs, HIMA) };
}

test("a run record has the table's figures: status, val losses, tokens/s, peak, state saved, duration", async () => {
  const { hima } = twoRuns();
  const r = await readRunRecord(hima);
  const s = r.summary;
  assert.equal(s.id, "hima-50");
  assert.equal(s.status, "completed");
  assert.equal(s.method, "hima");
  assert.equal(s.preset, "tiny");
  assert.deepEqual(s.cutoffs, { hot: 0.5, warm: 0.75 });
  assert.equal(s.steps, 100);
  assert.equal(s.finalValLoss, 2.4);
  assert.equal(s.bestValLoss, 2.4);
  assert.equal(s.tokensPerS, 160);
  assert.equal(s.peakMemoryBytes, 600);
  assert.equal(s.peakMemoryKind, "device");
  assert.equal(s.stateSaved, 0.5);
  assert.equal(s.durationS, 7);
  assert.equal(s.startedAt, "2026-11-20T10:00:00.000Z");
  // The training clock: 10 step events of 10 steps at 50 ms.
  assert.deepEqual(r.series.loss.wall.map((w) => Number(w.toFixed(6))), [0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5]);
  assert.deepEqual(r.frames.map((f) => f.step), [0, 50]);
  assert.deepEqual([...r.frames[1].tiers], [2, 1, 0, 0]);
});

test("a run without `done` is 'ended early', or 'running' when its trainer is live", () => {
  const events = handRunEvents({ ...HIMA, noDone: true });
  assert.equal(foldRun(events, { id: "x", dir: "/x" }).summary.status, "ended early");
  assert.equal(foldRun(events, { id: "x", dir: "/x", live: true }).summary.status, "running");
});

test("a resumed segment replaces the series after its start step and continues the clock", () => {
  const events = handRunEvents(HIMA);
  const hello = events[0] as Extract<(typeof events)[number], { type: "hello" }>;
  const cut = events.findIndex((e) => e.type === "step" && e.step === 70);
  const resumed = [...events.slice(0, cut + 1), { ...hello, start_step: 50 }, ...events.slice(events.findIndex((e) => e.type === "step" && e.step === 60))];
  const r = foldRun(resumed, { id: "x", dir: "/x" });
  assert.deepEqual(r.series.loss.step, [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
  assert.equal(Number(r.series.loss.wall.at(-1)!.toFixed(6)), 5);
});

test("compare: speedup, time to the baseline's final val loss, memory and state saved, val gap", async () => {
  const { base, hima } = twoRuns();
  const c = compareRuns([await readRunRecord(base), await readRunRecord(hima)], "base-full");
  assert.equal(c.baselineId, "base-full");
  assert.equal(c.target, 2.5);
  const [b, h] = c.rows;
  assert.equal(b.isBaseline, true);
  assert.equal(b.speedup, 1);
  assert.equal(b.timeToBaselineVal, 10);
  assert.equal(h.speedup, 2);
  assert.equal(h.timeToBaselineVal, 5);
  assert.ok(Math.abs(h.memorySaved! - 0.4) < 1e-12);
  assert.equal(h.stateSaved, 0.5);
  assert.ok(Math.abs(h.valGap! - -0.1) < 1e-12);
  // The other way round: full AdamW never reaches HiMA's final val loss.
  const other = compareRuns([await readRunRecord(base), await readRunRecord(hima)], "hima-50");
  assert.equal(other.rows[0].timeToBaselineVal, null);
  assert.equal(other.rows[0].speedup, 0.5);
  assert.throws(() => compareRuns([], undefined), /nothing to compare/);
});

test("config diff lists only the settings that differ", async () => {
  const { base, hima } = twoRuns();
  const diff = configDiff([await readRunRecord(base), await readRunRecord(hima)]);
  const keys = diff.map((d) => d.key);
  assert.deepEqual(keys, ["cutoffs.hot", "cutoffs.warm", "hot", "lr", "method"]);
  assert.deepEqual(diff.find((d) => d.key === "lr")!.values, ["0.001", "0.002"]);
});

test("CSV: one row per step, every series a column, empty cells where a series has no point", async () => {
  const { hima } = twoRuns();
  const csv = runCsv(await readRunRecord(hima)).trimEnd().split("\n");
  const header = csv[0].split(",");
  assert.deepEqual(header.slice(0, 5), ["step", "wall_s", "loss", "val_loss", "lr"]);
  assert.equal(csv.length, 1 + 11); // step 0 (tiers) + 10 step rows
  const row = (step: number) => Object.fromEntries(csv.find((l) => l.startsWith(`${step},`))!.split(",").map((v, i) => [header[i], v]));
  assert.equal(row(50).val_loss, "3.1");
  assert.equal(row(50).wall_s, "2.5");
  assert.equal(row(50).peak_bytes, "600");
  assert.equal(row(50).cold_tensors, "1");
  assert.equal(row(40).val_loss, "");
  assert.equal(row(0).hot_tensors, "4");
});

test("meta: tags, note and a display name are stored in the run folder and checked", async () => {
  const { hima } = twoRuns();
  assert.deepEqual(await readRunMeta(hima), { name: null, tags: [], note: "" });
  await writeRunMeta(hima, { name: "  HiMA 50%  ", tags: parseTags("fast, gpu,fast"), note: "line 1\nline 2" });
  assert.deepEqual(await readRunMeta(hima), { name: "HiMA 50%", tags: ["fast", "gpu"], note: "line 1\nline 2" });
  assert.equal((await readRunRecord(hima)).summary.name, "HiMA 50%");
  assert.match(String(checkRunMeta({ tags: ["a,b"] })), /without commas/);
  assert.match(String(checkRunMeta({ name: "x".repeat(500) })), /at most/);
  await assert.rejects(writeRunMeta(hima, { name: null, tags: Array(100).fill("t"), note: "" }), /at most 32/);
});

test("`hima compare` prints the summary table against the chosen baseline, and a Markdown report", async () => {
  const { runs, base, hima } = twoRuns();
  const { io, out } = memoryIO(runs);
  assert.equal(await runCli(["compare", "hima-50", "--baseline", "base-full", "--markdown", "report.md"], io), 0);
  const text = out();
  assert.match(text, /^run\s+method\s+steps\s+final val\s+val gap\s+speedup\s+time to base val\s+memory saved\s+state saved\s+duration/m);
  assert.match(text, /^\* base-full\s+full\s+100\s+2\.500\s+\(baseline\)\s+1\.00×\s+10\.0 s/m);
  assert.match(text, /^hima-50\s+hima\s+100\s+2\.400\s+-0\.100\s+2\.00×\s+5\.0 s\s+40\.0%\s+50\.0%/m);
  assert.match(text, /settings that differ:\n\s+cutoffs\.hot\s+1\s+\|\s+0\.5/);
  const md = readFileSync(join(runs, "report.md"), "utf8");
  assert.match(md, /^# HiMA run comparison/);
  assert.match(md, /\| hima-50 \| hima \| 100 \| 2\.400 \| -0\.100 \| 2\.00× \| 5\.0 s \| 40\.0% \| 50\.0% \|/);
  assert.match(md, /## Settings that differ/);
  // Without --baseline the first run is the baseline; one run is a usage error.
  const second = memoryIO(runs);
  assert.equal(await runCli(["compare", hima, base], second.io), 0);
  assert.match(second.out(), /^\* hima-50/m);
  const bad = memoryIO(runs);
  assert.equal(await runCli(["compare", hima], bad.io), 2);
  assert.match(bad.err(), /at least two run folders/);
  const missing = memoryIO(runs);
  assert.equal(await runCli(["compare", hima, join(runs, "nope")], missing.io), 2);
  assert.match(missing.err(), /not a run folder/);
});

test("`hima export` writes CSV, TensorBoard folders and Markdown; --help lists compare and export", async () => {
  const { runs, base, hima } = twoRuns();
  const { io, out } = memoryIO(runs);
  assert.equal(await runCli(["export", hima, "--format", "csv", "--out", "out/hima.csv"], io), 0);
  assert.match(readFileSync(join(runs, "out/hima.csv"), "utf8"), /^step,wall_s,loss,val_loss/);
  assert.equal(await runCli(["export", base, hima, "--format", "csv", "--out", "csvs"], io), 0);
  assert.deepEqual(readdirSync(join(runs, "csvs")).sort(), ["base-full.csv", "hima-50.csv"]);
  assert.equal(await runCli(["export", base, hima, "--format", "tensorboard", "--out", "tb"], io), 0);
  for (const id of ["base-full", "hima-50"]) assert.match(readdirSync(join(runs, "tb", id))[0], /^events\.out\.tfevents\.\d+\.hima\./);
  assert.equal(await runCli(["export", base, hima, "--format", "markdown", "--out", "r.md", "--baseline", hima], io), 0);
  assert.match(readFileSync(join(runs, "r.md"), "utf8"), /baseline \*\*hima-50\*\*/);
  assert.match(out(), /wrote .*hima\.csv/);
  const bad = memoryIO(runs);
  assert.equal(await runCli(["export", hima, "--format", "xml", "--out", "x"], bad.io), 2);
  assert.match(bad.err(), /--format must be one of csv, tensorboard, markdown/);
  assert.ok(!existsSync(join(runs, "x")));
  const help = memoryIO(runs);
  assert.equal(await runCli(["--help"], help.io), 0);
  assert.match(help.out(), /hima compare RUN_DIR RUN_DIR\.\.\. \[--baseline RUN_DIR\]/);
  assert.match(help.out(), /hima export RUN_DIR .*--format csv\|tensorboard\|markdown --out PATH/);
  assert.ok(formatComparison(compareRuns([await readRunRecord(base)])).includes("base-full"));
});

test("the runs library keeps summaries on disk: a new window reads only runs whose log or meta changed", async () => {
  const { runs, hima } = twoRuns();
  const first = await new RunsLibrary(runs).list();
  assert.deepEqual(first.map((r) => r.id).sort(), ["base-full", "hima-50"]);
  const cache = JSON.parse(readFileSync(join(runs, SUMMARY_CACHE_FILE), "utf8"));
  assert.deepEqual(Object.keys(cache.runs).sort(), ["base-full", "hima-50"]);
  // A cached summary is used as long as the log is unchanged (proved by planting a different name in it)...
  cache.runs["base-full"].summary.name = "from the cache";
  writeFileSync(join(runs, SUMMARY_CACHE_FILE), JSON.stringify(cache));
  assert.equal((await new RunsLibrary(runs).list()).find((r) => r.id === "base-full")!.name, "from the cache");
  // ...and a run whose meta changed is read again.
  const lib = new RunsLibrary(runs);
  await lib.setMeta("hima-50", { name: "renamed" });
  assert.equal((await new RunsLibrary(runs).list()).find((r) => r.id === "hima-50")!.name, "renamed");
  // A deleted run leaves the table and the cache; a corrupt cache file is rebuilt.
  await lib.delete("hima-50");
  assert.ok(!existsSync(hima));
  writeFileSync(join(runs, SUMMARY_CACHE_FILE), "{not json");
  assert.deepEqual((await new RunsLibrary(runs).list()).map((r) => r.id), ["base-full"]);
  assert.deepEqual(Object.keys(JSON.parse(readFileSync(join(runs, SUMMARY_CACHE_FILE), "utf8")).runs), ["base-full"]);
});
