// The GPU charts in headless Chromium: a run whose memory events carry NVML figures (`gpu`: utilization,
// power, temperature) gets a utilization/temperature chart and a power chart, with the latest values in their
// legends; a run without them (a CPU run, no nvidia-ml-py) shows neither, and nothing errors in the page.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Event } from "../../protocol/protocol.generated";
import { RunModel } from "../../src/run/RunModel";
import { validateEvent } from "../../src/run/validateEvent";
import { openPanel, type PanelPage } from "./panelPage";
import { syntheticEvents } from "./syntheticRun";

function modelOf(gpu: boolean): { model: RunModel; last: Extract<Event, { type: "memory" }> } {
  const model = new RunModel({ maxPoints: 500 });
  let last: Extract<Event, { type: "memory" }> | null = null;
  for (const e of syntheticEvents({ steps: 400, memoryEvery: 20, gpu, nLayer: 2, nEmbd: 32, vocab: 256, blockSize: 64 })) {
    assert.equal(typeof validateEvent(e), "object", `the synthetic event is protocol-valid: ${JSON.stringify(e).slice(0, 200)}`);
    model.apply(e);
    if (e.type === "memory") last = e;
  }
  return { model, last: last! };
}

const shown = (panel: PanelPage) =>
  panel.page.$$eval(".chart", (els) => els.filter((e) => !(e as HTMLElement).hidden).map((e) => (e as HTMLElement).dataset.chart));

describe("GPU charts (headless Chromium)", () => {
  let panel: PanelPage;
  let seq = 0;

  before(async () => {
    panel = await openPanel();
  });
  after(async () => {
    await panel?.close();
  });

  it("a run with NVML figures: utilization and temperature on one chart, power on another, latest values in the legends", async () => {
    const { model, last } = modelOf(true);
    await panel.postAndWaitPainted({ kind: "snapshot", snapshot: model.snapshot(), seq: ++seq });
    assert.deepEqual((await shown(panel)).slice(-2), ["gpu", "gpuPower"]);
    const gpu = panel.page.locator('.chart[data-chart="gpu"]');
    assert.equal(await gpu.getAttribute("data-series"), "utilization,temperature");
    assert.equal(Number(await gpu.getAttribute("data-points")), 400 / 20);
    assert.equal(await panel.page.getAttribute('.chart[data-chart="gpuPower"]', "data-series"), "power");
    const legend = await panel.page.textContent('.chart[data-chart="gpuPower"] .u-legend');
    assert.ok(legend?.includes(`${last.gpu!.power_w!.toFixed(0)} W`), `power legend shows the latest value: ${legend}`);
    const heat = await gpu.locator(".u-legend").textContent();
    assert.ok(heat?.includes(last.gpu!.temperature_c!.toFixed(0)), `temperature in the legend: ${heat}`);
    assert.equal(await panel.page.locator('.chart[data-chart="gpu"] canvas').count(), 1);
    assert.deepEqual(panel.errors, []);
  });

  it("a run without them shows no GPU chart and no error", async () => {
    const { model } = modelOf(false);
    assert.deepEqual(model.snapshot().charts.gpu, { x: [], series: { utilization: [], power: [], temperature: [] } });
    await panel.postAndWaitPainted({ kind: "snapshot", snapshot: model.snapshot(), seq: ++seq });
    assert.deepEqual(await shown(panel), ["loss", "throughput", "memory", "optimizerState", "tierCounts"]);
    assert.deepEqual(panel.errors, []);
  });
});
