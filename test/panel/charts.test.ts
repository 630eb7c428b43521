// The tier panel's charts during a live run, in headless Chromium: a drag-zoom survives live updates and is
// shared by every chart, a double-click shows the whole run again; every chart spans the same steps (tier
// counts are held to the latest step, drawn as steps); the hover cursor is shared; legends show the latest
// values without hovering; the smoothing slider asks the host, whose EMA is taken on the full-resolution
// series; PNG export hands the host a PNG; at sidebar width (300 px) nothing overflows.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import type { WebviewToHost } from "../../common/messages";
import type { Event } from "../../protocol/protocol.generated";
import { readRunEvents } from "../../src/run/RunStore";
import { RunModel } from "../../src/run/RunModel";
import { openPanel, type PanelPage } from "./panelPage";

const ROOT = resolve(__dirname, "..", "..");
const FIXTURE_RUN = join(ROOT, "test", "panel", "fixtures", "tiny-run");

describe("panel charts (headless Chromium)", () => {
  let panel: PanelPage;
  let model: RunModel;
  let events: Event[];
  let next = 0;
  let seq = 0;

  const xRange = (chart: string) => panel.page.$eval(`.chart[data-chart="${chart}"] .uplot`, (el) => {
    const d = (el as HTMLElement).dataset;
    return [Number(d.xMin), Number(d.xMax)];
  });
  /** Feeds events up to (and including) the step event `step`, then sends the model's update. */
  const feedTo = async (step: number) => {
    while (next < events.length) {
      const e = events[next];
      if (e.type === "step" && e.step > step) break;
      if (e.type !== "done") model.apply(e);
      next++;
    }
    const update = model.takeUpdate();
    if (update) await panel.postAndWaitPainted({ kind: "update", update, seq: ++seq });
  };
  const sentSince = async (n: number): Promise<WebviewToHost[]> => (await panel.sent()).slice(n).filter((m) => m.kind !== "painted");

  before(async () => {
    events = (await readRunEvents(FIXTURE_RUN)).events;
    model = new RunModel({ maxPoints: 500 });
    panel = await openPanel();
    await feedTo(40);
    await panel.postAndWaitPainted({ kind: "snapshot", snapshot: model.snapshot(), seq: ++seq });
  });

  after(async () => {
    await panel?.close();
  });

  it("every chart spans the same steps; tier counts are held to the latest step", async () => {
    const loss = await xRange("loss");
    assert.equal(loss[1], 40);
    for (const c of ["throughput", "memory", "optimizerState", "tierCounts"]) assert.deepEqual(await xRange(c), loss, `${c} spans the loss chart's steps`);
    // The last re-tier was at step 25; its counts are drawn on to step 40.
    const snap = model.snapshot();
    assert.equal(snap.charts.tierCounts.x.at(-1), 25);
    const points = await panel.page.$eval('.chart[data-chart="tierCounts"]', (e) => Number((e as HTMLElement).dataset.points));
    assert.equal(points, snap.charts.tierCounts.x.length + 1);
  });

  it("legends show the latest values without hovering", async () => {
    const values = await panel.page.$$eval('.chart[data-chart="loss"] .u-legend .u-series td.u-value', (tds) => tds.map((t) => t.textContent));
    assert.ok(values.slice(1, 3).every((v) => v !== "—" && v !== "" && v !== "--"), values.join());
  });

  it("a drag-zoom on one chart zooms all, survives live updates, and a double-click shows the whole run", async () => {
    const over = (await panel.page.$('.chart[data-chart="loss"] .u-over'))!;
    const bb = (await over.boundingBox())!;
    await panel.page.mouse.move(bb.x + bb.width * 0.25, bb.y + bb.height / 2);
    await panel.page.mouse.down();
    await panel.page.mouse.move(bb.x + bb.width * 0.6, bb.y + bb.height / 2, { steps: 5 });
    await panel.page.mouse.up();
    const zoomed = await xRange("loss");
    assert.ok(zoomed[0] > 5 && zoomed[1] < 30, `zoomed to ${zoomed}`);
    for (const c of ["throughput", "tierCounts"]) assert.deepEqual(await xRange(c), zoomed);
    // The run goes on: new steps, a re-tier at 50, an eval; the zoom stays.
    await feedTo(55);
    assert.deepEqual(await xRange("loss"), zoomed, "zoom kept across the live update");
    assert.deepEqual(await xRange("memory"), zoomed);
    await (await panel.page.$('.chart[data-chart="throughput"] .u-over'))!.dblclick();
    // The whole run: from the first re-tier at step 0 to the latest step.
    assert.deepEqual(await xRange("loss"), [0, 55]);
    assert.deepEqual(await xRange("tierCounts"), await xRange("loss"));
  });

  it("hovering one chart moves the cursor on all of them", async () => {
    const over = (await panel.page.$('.chart[data-chart="loss"] .u-over'))!;
    const bb = (await over.boundingBox())!;
    await panel.page.mouse.move(bb.x + bb.width * 0.5, bb.y + bb.height / 2);
    const cursors = await panel.page.$$eval(".chart .u-cursor-x", (els) => els.map((e) => (e as HTMLElement).style.transform || (e as HTMLElement).style.left));
    assert.equal(cursors.length, 5);
    assert.equal(new Set(cursors).size, 1, `one cursor position: ${cursors.join(" | ")}`);
    await panel.page.mouse.move(0, 0);
  });

  it("the smoothing slider asks the host; the host's EMA does not depend on downsampling", async () => {
    const n = (await panel.sent()).length;
    await panel.page.$eval("[data-testid=smoothing]", (el) => {
      const input = el as HTMLInputElement;
      input.value = "0.5";
      input.dispatchEvent(new Event("input", { bubbles: true }));
    });
    await panel.page.waitForFunction((n) => window.__himaTest!.sent.slice(n).some((m) => m.kind === "setSmoothing"), n);
    assert.deepEqual(await sentSince(n), [{ kind: "setSmoothing", smoothing: 0.5 }]);
    // The same events at two resolutions give the same smoothed value at the latest step.
    const coarse = new RunModel({ maxPoints: 10 });
    const fine = new RunModel({ maxPoints: 5000 });
    for (const m of [coarse, fine]) {
      for (const e of events.slice(0, next)) m.apply(e);
      m.setSmoothing(0.5);
    }
    const last = (m: RunModel) => m.snapshot().charts.loss.series.loss_ema.at(-1);
    assert.equal(coarse.snapshot().charts.loss.x.length <= 10, true);
    assert.equal(last(coarse), last(fine));
    model.setSmoothing(0.5);
    await feedTo(56);
  });

  it("PNG export of a chart hands the host a PNG image", async () => {
    const n = (await panel.sent()).length;
    await panel.page.click("[data-testid=png-loss]");
    const m = (await sentSince(n)).find((x) => x.kind === "savePng") as Extract<WebviewToHost, { kind: "savePng" }>;
    assert.equal(m.name, "loss.png");
    const bytes = Buffer.from(m.dataUrl.slice(m.dataUrl.indexOf(",") + 1), "base64");
    assert.equal(bytes.subarray(1, 4).toString("latin1"), "PNG");
  });

  it("at sidebar width (300 px) the charts and legends fit", async () => {
    await panel.page.setViewportSize({ width: 300, height: 1300 });
    await panel.page.waitForFunction(() => Array.from(document.querySelectorAll(".chart canvas")).every((c) => (c as HTMLCanvasElement).getBoundingClientRect().width <= 300));
    const overflow = await panel.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow} px`);
    const legendOverflow = await panel.page.$$eval(".chart .u-legend", (els) => els.map((e) => e.scrollWidth - (e as HTMLElement).clientWidth));
    assert.ok(legendOverflow.every((o) => o <= 1), `legends overflow: ${legendOverflow}`);
    await panel.page.screenshot({ path: join(ROOT, "test-results", "panel-300px.png"), fullPage: true });
    assert.deepEqual(panel.errors, []);
  });
});
