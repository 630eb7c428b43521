// The Runs view in headless Chromium, fed by the same RunsLibrary the extension uses over real run folders
// (two hand-made runs with known figures and the recorded tiny CPU run): the table sorts, filters, hides
// columns and picks runs; the comparison overlays one line per run on every chart, by step and by time, with
// the summary table and the config diff; a zoom survives a data refresh and is shared by all charts; PNG
// export hands the host a real PNG; the tier timeline scrubs the tier map to a past re-tier.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import type { RunsViewToHost } from "../../common/runsMessages";
import { RunsLibrary } from "../../src/runs/runsLibrary";
import { BASELINE, HIMA, writeHandRun } from "../fixtures/compareRuns";
import { tempDir } from "../fixtures/runHelpers";
import { openRunsView, type RunsPage } from "./runsPage";

const ROOT = resolve(__dirname, "..", "..");
const RESULTS = join(ROOT, "test-results");

describe("runs view (headless Chromium)", () => {
  let view: RunsPage;
  let library: RunsLibrary;
  let seq = 0;
  /** The x range a chart shows, "min..max" (PlotGroup writes it on the chart's root). */
  const xRange = (name: string) => view.page.$eval(`.overlay-chart[data-chart="${name}"] .uplot`, (el) => {
    const d = (el as HTMLElement).dataset;
    return `${Number(Number(d.xMin).toFixed(3))}..${Number(Number(d.xMax).toFixed(3))}`;
  });
  const since = async (n: number): Promise<RunsViewToHost[]> => (await view.sent()).slice(n).filter((m) => m.kind !== "painted");

  before(async () => {
    const runs = tempDir("hima-runs-view-");
    writeHandRun(runs, BASELINE);
    writeHandRun(runs, HIMA);
    cpSync(join(ROOT, "test", "panel", "fixtures", "tiny-run"), join(runs, "tiny-run"), { recursive: true });
    library = new RunsLibrary(runs);
    view = await openRunsView();
    mkdirSync(RESULTS, { recursive: true });
  });

  after(async () => {
    await view?.close();
  });

  it("asks for the runs, then lists every run with its figures", async () => {
    assert.deepEqual((await view.sent())[0], { kind: "ready" });
    await view.postAndWaitPainted({ kind: "runs", runs: await library.list(), folder: library.runsDir, seq: ++seq });
    const ids = await view.page.$$eval("[data-testid=runs-table] tbody tr", (trs) => trs.map((tr) => (tr as HTMLElement).dataset.id));
    assert.equal(ids.length, 3);
    const cell = (id: string, col: string) => view.page.$eval(`tr[data-id="${id}"] td[data-column="${col}"]`, (td) => td.textContent);
    assert.equal(await cell("hima-50", "method"), "hima");
    assert.equal(await cell("hima-50", "finalVal"), "2.400");
    assert.equal(await cell("hima-50", "stateSaved"), "50%");
    assert.equal(await cell("hima-50", "cutoffs"), "0.5 / 0.75");
    assert.equal(await cell("tiny-run", "status"), "stopped");
    assert.equal(await cell("base-full", "peak"), "1000 B");
  });

  it("sorts by a column (again to reverse), filters by text, hides a column", async () => {
    const order = () => view.page.$$eval("[data-testid=runs-table] tbody tr", (trs) => trs.map((tr) => (tr as HTMLElement).dataset.id));
    await view.page.click("th[data-column=finalVal] button");
    assert.deepEqual(await order(), ["tiny-run", "hima-50", "base-full"].sort((a, b) => ({ "tiny-run": 1.839, "hima-50": 2.4, "base-full": 2.5 })[a]! - ({ "tiny-run": 1.839, "hima-50": 2.4, "base-full": 2.5 })[b]!));
    await view.page.click("th[data-column=finalVal] button");
    assert.deepEqual(await order(), ["base-full", "hima-50", "tiny-run"]);
    await view.page.fill("[data-testid=runs-filter]", "full");
    assert.deepEqual(await order(), ["base-full"]);
    assert.match((await view.page.textContent("[data-testid=runs-count]"))!, /1 of 3 runs/);
    await view.page.fill("[data-testid=runs-filter]", "");
    await view.page.click(".columns-menu summary");
    await view.page.uncheck(".columns-menu input[data-column=tokensPerS]");
    assert.equal(await view.page.$("th[data-column=tokensPerS]"), null);
    await view.page.check(".columns-menu input[data-column=tokensPerS]");
    assert.notEqual(await view.page.$("th[data-column=tokensPerS]"), null);
    await view.page.click(".columns-menu summary");
  });

  it("a focused run's tags and note are sent for saving; rename and delete go to the host", async () => {
    const n = (await view.sent()).length;
    await view.page.click('tr[data-id="hima-50"] td[data-column="name"]');
    assert.equal(await view.page.isVisible("[data-testid=run-details-pane]"), true);
    await view.page.fill("[data-testid=run-tags]", "fast, gpu , fast");
    await view.page.fill("[data-testid=run-note]", "50% Cold from step 50");
    await view.page.click("[data-testid=run-details-pane] button[data-action=save]");
    await view.page.click("[data-testid=run-details-pane] button[data-action=rename]");
    await view.page.click("[data-testid=run-details-pane] button[data-action=delete]");
    assert.deepEqual(await since(n), [
      { kind: "setMeta", id: "hima-50", tags: ["fast", "gpu"], note: "50% Cold from step 50" },
      { kind: "rename", id: "hima-50" },
      { kind: "delete", id: "hima-50" },
    ]);
  });

  it("ticking two runs asks for their comparison; the view overlays one line per run on every chart", async () => {
    const n = (await view.sent()).length;
    await view.page.check('tr[data-id="base-full"] td.pick input');
    await view.page.check('tr[data-id="hima-50"] td.pick input');
    const asked = (await since(n)).filter((m) => m.kind === "compare");
    const req = asked.at(-1) as Extract<RunsViewToHost, { kind: "compare" }>;
    assert.deepEqual([...req.ids].sort(), ["base-full", "hima-50"]);
    assert.equal(req.smoothing, 0.9);
    assert.ok(req.ids.includes(req.baseline));
    await view.page.selectOption("[data-testid=baseline]", "base-full");
    const again = (await since(n)).filter((m) => m.kind === "compare").at(-1) as Extract<RunsViewToHost, { kind: "compare" }>;
    assert.equal(again.baseline, "base-full");
    await view.postAndWaitPainted({ kind: "compare", view: await library.compareView(req.ids, "base-full", 0.9), seq: ++seq });
    const table = await view.page.$$eval("[data-testid=compare-table] tr[data-id]", (trs) => trs.map((tr) => [(tr as HTMLElement).dataset.id, ...Array.from(tr.children).map((c) => c.textContent)]));
    const hima = table.find((r) => r[0] === "hima-50")!;
    assert.deepEqual(hima.slice(2), ["hima", "100", "2.400", "-0.100", "2.00×", "5.0 s", "40.0%", "50.0%", "7.0 s"]);
    const charts = await view.page.$$eval(".overlay-chart", (els) => els.map((e) => ({ name: (e as HTMLElement).dataset.chart, runs: (e as HTMLElement).dataset.runs, hidden: (e as HTMLElement).hidden, legend: e.querySelectorAll(".u-legend .u-series").length })));
    for (const c of charts.filter((c) => !c.hidden)) assert.equal(c.legend, 3, `${c.name}: x + one series per run`);
    assert.deepEqual(charts.filter((c) => !c.hidden).map((c) => c.name).sort(), ["cold_share", "hot_share", "loss", "loss_smoothed", "memory", "state", "tokens_per_s", "val_loss"]);
    const diff = await view.page.$$eval("[data-testid=config-diff] tr th:first-child", (ths) => ths.map((t) => t.textContent));
    assert.ok(diff.includes("lr") && diff.includes("method"), diff.join());
    // Legends show each run's latest value without hovering (not "—").
    const legend = await view.page.$$eval('.overlay-chart[data-chart="val_loss"] .u-legend .u-series td.u-value', (tds) => tds.map((t) => t.textContent));
    assert.deepEqual(legend.slice(1), ["2.5", "2.4"]);
    await view.page.screenshot({ path: join(RESULTS, "runs-compare.png"), fullPage: true });
  });

  it("x by time puts each run's points at its training clock", async () => {
    await view.page.check("[data-testid=x-time]");
    // Every chart shows the same x extent: from the first re-tier (0) to the baseline's last point at 10 s on
    // its clock (HiMA's ends at 5 s); by step both end at 100.
    assert.equal(await xRange("val_loss"), "0..10");
    await view.page.check("[data-testid=x-step]");
    assert.equal(await xRange("val_loss"), "0..100");
  });

  it("a drag-zoom on one chart zooms all of them and survives a data refresh; double-click resets", async () => {
    const over = (await view.page.$('.overlay-chart[data-chart="loss"] .u-over'))!;
    const bb = (await over.boundingBox())!;
    const before = await xRange("tokens_per_s");
    await view.page.mouse.move(bb.x + bb.width * 0.5, bb.y + bb.height / 2);
    await view.page.mouse.down();
    await view.page.mouse.move(bb.x + bb.width * 0.7, bb.y + bb.height / 2, { steps: 5 });
    await view.page.mouse.up();
    const zoomedOther = await xRange("tokens_per_s");
    assert.notEqual(zoomedOther, before, "zooming the loss chart zoomed the tokens/s chart too");
    const zoomedLoss = await xRange("loss");
    // A refresh of the data (the host answers a new smoothing) keeps the zoom.
    await view.postAndWaitPainted({ kind: "compare", view: await library.compareView(["base-full", "hima-50"], "base-full", 0.5), seq: ++seq });
    assert.equal(await xRange("loss"), zoomedLoss, "zoom kept across the update");
    assert.equal(await xRange("tokens_per_s"), zoomedOther);
    await (await view.page.$('.overlay-chart[data-chart="loss"] .u-over'))!.dblclick();
    assert.equal(await xRange("tokens_per_s"), before, "double-click shows the whole run again");
  });

  it("PNG export of a chart hands the host a PNG image", async () => {
    const n = (await view.sent()).length;
    await view.page.click("[data-testid=png-loss_smoothed]");
    const m = (await since(n)).find((x) => x.kind === "savePng") as Extract<RunsViewToHost, { kind: "savePng" }>;
    assert.equal(m.name, "loss_smoothed.png");
    const bytes = Buffer.from(m.dataUrl.slice(m.dataUrl.indexOf(",") + 1), "base64");
    assert.deepEqual([...bytes.subarray(1, 4)].map((b) => String.fromCharCode(b)).join(""), "PNG");
    assert.ok(bytes.length > 2000);
  });

  it("export buttons ask the host for CSV, TensorBoard and a Markdown report of the picked runs", async () => {
    const n = (await view.sent()).length;
    for (const f of ["csv", "tensorboard", "markdown"]) await view.page.click(`button[data-export=${f}]`);
    assert.deepEqual((await since(n)).filter((m) => m.kind === "export"), [
      { kind: "export", format: "csv", ids: ["base-full", "hima-50"], baseline: null },
      { kind: "export", format: "tensorboard", ids: ["base-full", "hima-50"], baseline: null },
      { kind: "export", format: "markdown", ids: ["base-full", "hima-50"], baseline: "base-full" },
    ]);
  });

  it("the tier timeline scrubs the tier map to a past re-tier", async () => {
    await view.page.click('tr[data-id="hima-50"] td[data-column="name"]');
    const n = (await view.sent()).length;
    await view.page.click("[data-testid=run-details-pane] button[data-action=timeline]");
    assert.deepEqual(await since(n), [{ kind: "timeline", id: "hima-50" }]);
    await view.postAndWaitPainted({ kind: "timeline", view: await library.timelineView("hima-50"), seq: ++seq });
    const tiers = () => view.page.$$eval("[data-testid=timeline] [data-testid=tier-cells] li", (lis) => lis.map((li) => (li as HTMLElement).dataset.tier));
    assert.equal(await view.page.getAttribute("[data-testid=timeline-step]", "data-step"), "50");
    assert.deepEqual(await tiers(), ["cold", "warm", "hot", "hot"]);
    await view.page.fill("[data-testid=timeline-scrub]", "0");
    assert.equal(await view.page.getAttribute("[data-testid=timeline-step]", "data-step"), "0");
    assert.deepEqual(await tiers(), ["hot", "hot", "hot", "hot"]);
    assert.match((await view.page.textContent("[data-testid=timeline-step]"))!, /Hot 4 · Warm 0 · Cold 0/);
    await view.page.screenshot({ path: join(RESULTS, "runs-timeline.png"), fullPage: true });
    assert.deepEqual(view.errors, []);
  });
});
