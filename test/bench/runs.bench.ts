// Runs view benchmark (part of `npm run bench:panel`; prints figures, asserts nothing, exit code 1 when a
// target is missed):
//  1. a runs folder of 200 synthetic runs (2000 steps each): RunsLibrary.list() the first time ever (every log
//     read), in a new window (summaries read from the runs folder's cache file, every log stat'ed) and again in
//     the same window, then the table's first paint in the real Runs view bundle in headless Chromium;
//  2. a comparison of 5 runs × 100k steps: reading the five logs (cold), RunsLibrary.compareView (records
//     cached, as when the user changes the baseline or the smoothing), and the view's paint of the eight overlaid
//     charts, summary table and config diff.
// Targets (issue 15): the table of 200 runs opens in < 1 s (list in a new window + paint), the comparison renders in < 2 s
// (compareView + paint). Writes test-results/bench-runs.json.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { RunsLibrary } from "../../src/runs/runsLibrary";
import { syntheticEvents, type SyntheticRunOptions } from "../panel/syntheticRun";
import { openRunsView } from "../panel/runsPage";

const TARGETS = { tableMs: 1000, compareMs: 2000 };

function writeRun(runsDir: string, id: string, o: SyntheticRunOptions, createdAt: Date): void {
  const dir = join(runsDir, id);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const lines: string[] = [];
  for (const e of syntheticEvents(o)) lines.push(JSON.stringify(e.type === "hello" ? { ...e, run_id: id, config: { ...e.config, lr: 6e-4 * (1 + (o.seed ?? 0) % 3) } } : e));
  writeFileSync(join(dir, "events.jsonl"), lines.join("\n") + "\n");
  writeFileSync(join(dir, "config.json"), JSON.stringify({ runId: id, createdAt: createdAt.toISOString(), method: "hima", preset: "small", launchedBy: "bench" }));
}

const ms = (t0: number) => Math.round(performance.now() - t0);

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), "hima-bench-runs-"));
  const results: Record<string, number> = {};
  try {
    // 1. The table of 200 runs.
    const many = join(root, "many");
    for (let i = 0; i < 200; i++) {
      writeRun(many, `run-${String(i).padStart(3, "0")}`, { steps: 2000, nLayer: 4, nEmbd: 128, vocab: 4096, blockSize: 256, tierEvery: 50, memoryEvery: 50, evalEvery: 250, seed: i + 1, done: i % 7 !== 0 }, new Date(Date.UTC(2026, 10, 1) + i * 3_600_000));
    }
    // First ever: every log is read and the summaries are written to the runs folder's cache file.
    let t0 = performance.now();
    await new RunsLibrary(many).list();
    results.listFirstEverMs = ms(t0);
    // Opening the view in a new window (or after a reload): a fresh library, the summary file on disk.
    const library = new RunsLibrary(many);
    t0 = performance.now();
    const runs = await library.list();
    results.listColdMs = ms(t0);
    t0 = performance.now();
    await library.list();
    results.listWarmMs = ms(t0);
    const view = await openRunsView({ width: 1400, height: 1200 });
    try {
      t0 = performance.now();
      await view.postAndWaitPainted({ kind: "runs", runs, folder: many, seq: 1 });
      results.tablePaintMs = ms(t0);
      results.tableRows = await view.page.locator("[data-testid=runs-table] tbody tr").count();

      // 2. Five runs of 100k steps compared.
      const big = join(root, "big");
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const id = `long-${i}`;
        ids.push(id);
        writeRun(big, id, { steps: 100_000, tierEvery: 100, memoryEvery: 100, evalEvery: 1000, seed: 100 + i, hot: 0.2 + 0.1 * i, warm: 0.6, done: true }, new Date(Date.UTC(2026, 10, 20 + i)));
      }
      const bigLib = new RunsLibrary(big);
      t0 = performance.now();
      for (const id of ids) await bigLib.record(id);
      results.readFiveRunsColdMs = ms(t0);
      t0 = performance.now();
      await bigLib.compareView(ids, ids[0], 0.9); // warms the JIT; the timed call below is what a re-pick costs
      // The view asks for a comparison when runs are ticked: tick them, and answer what it asked.
      await view.postAndWaitPainted({ kind: "runs", runs: await bigLib.list(), folder: big, seq: 2 });
      const before = (await view.sent()).length;
      await view.page.evaluate((want) => {
        for (const id of want) (document.querySelector(`tr[data-id="${id}"] td.pick input`) as HTMLInputElement).click();
      }, ids);
      const asked = (await view.sent()).slice(before).filter((m) => m.kind === "compare").at(-1);
      if (!asked || asked.kind !== "compare") throw new Error("the view did not ask for the comparison");
      t0 = performance.now();
      const cmp = await bigLib.compareView(asked.ids, asked.baseline, asked.smoothing);
      results.compareViewMs = ms(t0);
      t0 = performance.now();
      await view.postAndWaitPainted({ kind: "compare", view: cmp, seq: 3 });
      results.comparePaintMs = ms(t0);
      results.comparePointsPerChart = await view.page.$eval('.overlay-chart[data-chart="loss"]', (e) => Number((e as HTMLElement).dataset.points));
      mkdirSync(resolve("test-results"), { recursive: true });
      await view.page.screenshot({ path: resolve("test-results", "bench-runs-compare.png"), fullPage: true });
      if (view.errors.length) throw new Error(`page errors: ${view.errors.join("; ")}`);
    } finally {
      await view.close();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  const tableMs = results.listColdMs + results.tablePaintMs;
  const compareMs = results.compareViewMs + results.comparePaintMs;
  console.log(`HiMA runs view benchmark (${new Date().toISOString()}, node ${process.version}, ${cpus().length} CPUs, load average ${loadavg()[0].toFixed(1)})`);
  console.log(`runs table, 200 runs × 2000 steps: open = list ${results.listColdMs} ms (new window, summaries on disk; ${results.listWarmMs} ms in the same window) + paint ${results.tablePaintMs} ms = ${tableMs} ms (target < ${TARGETS.tableMs} ms), ${results.tableRows} rows`);
  console.log(`  first listing ever (every log read, summaries written): ${results.listFirstEverMs} ms`);
  console.log(`compare, 5 runs × 100k steps: read logs ${results.readFiveRunsColdMs} ms (once), compareView ${results.compareViewMs} ms + paint ${results.comparePaintMs} ms = ${compareMs} ms (target < ${TARGETS.compareMs} ms), ${results.comparePointsPerChart} points in the loss chart`);
  const ok = { table: tableMs < TARGETS.tableMs, compare: compareMs < TARGETS.compareMs };
  console.log(`targets: table ${ok.table ? "met" : "MISSED"}, compare ${ok.compare ? "met" : "MISSED"}`);
  mkdirSync(resolve("test-results"), { recursive: true });
  writeFileSync(resolve("test-results", "bench-runs.json"), JSON.stringify({ ...results, tableMs, compareMs, targets: TARGETS, ok }, null, 2));
  if (!ok.table || !ok.compare) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
