// The panel rendered in headless Chromium from a recorded run (fixtures/<run>/events.jsonl -> RunModel ->
// snapshot), checked the way a user would see and use it: one tier-coloured cell per tensor, charts with
// points, Apply and the pin menu sending the right messages, control states, no CSP or script errors.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import type { PanelSnapshot, WebviewToHost } from "../../common/messages";
import type { Event } from "../../protocol/protocol.generated";
import { readRunEvents } from "../../src/run/RunStore";
import { RunModel } from "../../src/run/RunModel";
import { openPanel, type PanelPage } from "./panelPage";

const ROOT = resolve(__dirname, "..", "..");
// Recorded from the real trainer on CPU: `python -m hima train --preset tiny --max-steps 120 --eval-every 40
// --seed 1 --run-id tiny-recorded` (stopped at step 73): 52 tensors, re-tiered at steps 0, 25 and 50.
const FIXTURE_RUN = join(ROOT, "test", "panel", "fixtures", "tiny-run");
const RESULTS = join(ROOT, "test-results");

// Pure theme colours make each tier recognisable from a single canvas pixel.
const THEME = { "--vscode-charts-red": "#ff0000", "--vscode-charts-orange": "#ffa500", "--vscode-charts-blue": "#0000ff", "--vscode-editor-background": "#000000" };

type Cell = { name: string; tier: string; fill: string; x: number; y: number };

function tierOfPixel([r, g, b]: number[]): string {
  if (r > 0 && g === 0 && b === 0) return "hot";
  // Pure blue has only 2.4:1 against black, so the panel lifts it towards white (equal red and green) to 3:1.
  if (b > 0 && r === g && b > 2 * r) return "cold";
  if (r > 0 && b === 0 && Math.abs(g / r - 165 / 255) < 0.05) return "warm";
  return `unrecognised rgb(${r}, ${g}, ${b})`;
}

describe("tier panel (headless Chromium)", () => {
  let panel: PanelPage;
  let model: RunModel;
  let events: Event[];
  let seq = 0;

  const cells = () => panel.page.$$eval("[data-testid=tier-cells] li", (lis) => lis.map((li) => {
    const d = (li as HTMLElement).dataset;
    return { name: d.name!, tier: d.tier!, fill: d.fill!, x: Number(d.x), y: Number(d.y) };
  }));
  const pixel = (x: number, y: number) => panel.page.$eval(".tier-map canvas", (c, [x, y]) => {
    const canvas = c as HTMLCanvasElement;
    const scale = canvas.width / canvas.getBoundingClientRect().width;
    return Array.from(canvas.getContext("2d")!.getImageData(Math.round(x * scale), Math.round(y * scale), 1, 1).data.slice(0, 3));
  }, [x, y]);
  const sentSince = async (n: number): Promise<WebviewToHost[]> => (await panel.sent()).slice(n).filter((m) => m.kind !== "painted");
  const sendUpdate = async () => {
    const update = model.takeUpdate();
    assert.ok(update, "the model had changes to send");
    await panel.postAndWaitPainted({ kind: "update", update, seq: ++seq });
  };

  before(async () => {
    const read = await readRunEvents(FIXTURE_RUN);
    assert.equal(read.skipped, 0, "fixture events are all valid");
    events = read.events;
    // Replay everything but `done`, so the panel shows a run that is still live and accepts controls.
    model = new RunModel({ maxPoints: 500 });
    for (const e of events) if (e.type !== "done") model.apply(e);
    panel = await openPanel();
  });

  after(async () => {
    await panel?.close();
  });

  it("says ready, then shows the empty state whose buttons post commands", async () => {
    const sent = await panel.sent();
    assert.deepEqual(sent[0], { kind: "ready" });
    assert.equal(await panel.page.isVisible("[data-testid=empty-state]"), true);
    const n = sent.length;
    await panel.page.click("[data-testid=empty-state] vscode-button[data-command=startTraining]");
    await panel.page.click("[data-testid=empty-state] vscode-button[data-command=openRun]");
    assert.deepEqual(await sentSince(n), [
      { kind: "command", command: "startTraining" },
      { kind: "command", command: "openRun" },
    ]);
  });

  it("draws one cell per tensor in its tier colour, re-reading the theme when it changes", async () => {
    const snapshot: PanelSnapshot = model.snapshot();
    await panel.postAndWaitPainted({ kind: "snapshot", snapshot, seq: ++seq });
    assert.equal(await panel.page.isVisible("[data-testid=empty-state]"), false);
    // VS Code sets theme variables and swaps the body class on a theme change; do the same.
    await panel.page.evaluate((vars) => {
      for (const [k, v] of Object.entries(vars)) document.body.style.setProperty(k, v);
      document.body.className = "vscode-dark";
    }, THEME);
    await panel.page.waitForFunction(() => document.querySelector<HTMLElement>("[data-testid=tier-cells] li")?.dataset.fill?.startsWith("rgb(") === true);
    const drawn: Cell[] = await cells();
    assert.equal(drawn.length, snapshot.tensors.length);
    assert.ok(new Set(snapshot.tiers.map((t) => t.tier)).size >= 2, "fixture has several tiers");
    for (let i = 0; i < drawn.length; i++) {
      assert.equal(drawn[i].name, snapshot.tensors[i].name);
      assert.equal(drawn[i].tier, snapshot.tiers[i].tier);
      const rgb = await pixel(drawn[i].x, drawn[i].y);
      assert.equal(tierOfPixel(rgb), snapshot.tiers[i].tier, `${drawn[i].name} is drawn in its tier colour`);
    }
    const positions = new Set(drawn.map((c) => `${c.x},${c.y}`));
    assert.equal(positions.size, drawn.length, "no two tensors share a cell");
    const legend = await panel.page.textContent("[data-testid=tier-legend]");
    assert.match(legend!, new RegExp(`Hot ${snapshot.counts!.hot.tensors} \\(`));
    assert.match(legend!, new RegExp(`Cold ${snapshot.counts!.cold.tensors} \\(`));
  });

  it("plots every chart", async () => {
    // A CPU run reports no GPU figures: the GPU charts stay hidden (test/panel/gpuCharts.test.ts shows them).
    const points = await panel.page.$$eval(".chart:not([hidden])", (els) => els.map((e) => [(e as HTMLElement).dataset.chart, Number((e as HTMLElement).dataset.points)]));
    assert.deepEqual(points.map((p) => p[0]), ["loss", "throughput", "memory", "optimizerState", "tierCounts"]);
    for (const [name, n] of points) assert.ok((n as number) > 0, `${name} chart has points`);
    assert.equal(await panel.page.locator(".chart:not([hidden]) canvas").count(), 5);
  });

  it("draws optimizer state on its own chart, so its tier split is not flattened by the process's memory", async () => {
    const series = Object.fromEntries(await panel.page.$$eval(".chart", (els) => els.map((e) => [(e as HTMLElement).dataset.chart, (e as HTMLElement).dataset.series!.split(",")])));
    const mem = model.snapshot().charts.memory.series;
    const max = (k: string) => Math.max(...mem[k].filter((v): v is number => v !== null));
    assert.ok(max("rss") > 20 * max("state_total"), "the recording is a CPU run whose RSS dwarfs the optimizer state");
    assert.deepEqual(series.memory.filter((k: string) => k.startsWith("state_") || k === "evicted"), [], "no optimizer-state line on the memory axis");
    assert.ok(series.memory.includes("rss"));
    for (const k of ["state_total", "state_hot", "state_warm", "evicted"]) assert.ok(series.optimizerState.includes(k), `${k} on the optimizer-state chart`);
  });

  it("shows a tensor's details on hover, as text", async () => {
    const [first] = await cells();
    await panel.page.hover(".tier-map canvas", { position: { x: first.x, y: first.y } });
    const card = panel.page.locator(".tensor-card");
    await card.waitFor({ state: "visible" });
    const text = await card.textContent();
    assert.ok(text!.includes(first.name));
    assert.match(text!, /history/);
  });

  it("Apply sends the slider values; invalid cutoffs are explained and not sent", async () => {
    const n = (await panel.sent()).length;
    await panel.page.fill("#cutoff-hot", "0.35");
    assert.equal(await panel.page.$eval("vscode-textfield.cutoff-number", (f) => (f as HTMLElement & { value: string }).value), "0.35");
    await panel.page.click("[data-testid=apply-cutoffs]");
    const warm = model.snapshot().cutoffs!.warm;
    assert.deepEqual(await sentSince(n), [{ kind: "setCutoffs", hot: 0.35, warm }]);

    await panel.page.fill("#cutoff-hot", "0.9");
    await panel.page.fill("#cutoff-warm", "0.5");
    assert.match((await panel.page.textContent("[data-testid=cutoff-error]"))!, /Hot must not exceed Warm/);
    await panel.page.click("[data-testid=apply-cutoffs]", { force: true });
    assert.equal((await sentSince(n)).length, 1, "nothing more was sent");
  });

  it("shows a control as pending until its ack, then the step it took effect", async () => {
    model.trackControl("c-1", { v: 1, type: "set_cutoffs", id: "c-1", hot: 0.35, warm: 0.6 });
    await sendUpdate();
    const list = panel.page.locator("[data-testid=control-list] li").first();
    assert.match((await list.textContent())!, /set_cutoffs hot=0\.35 warm=0\.60 — pending/);
    model.apply({ v: 1, type: "ack", id: "c-1", control: "set_cutoffs", effective_step: 401 });
    await sendUpdate();
    assert.match((await list.textContent())!, /applied at step 401/);
    model.trackControl("c-2", { v: 1, type: "pin", id: "c-2", name: "nope", tier: "hot" });
    model.apply({ v: 1, type: "rejected", id: "c-2", reason: "unknown tensor nope" });
    await sendUpdate();
    assert.match((await list.textContent())!, /rejected: unknown tensor nope/);
  });

  it("clicking a cell offers pin/unpin; Pin Cold sends pin", async () => {
    const target = (await cells()).find((c) => c.tier === "hot")!;
    const n = (await panel.sent()).length;
    await panel.page.click(".tier-map canvas", { position: { x: target.x, y: target.y } });
    const menu = panel.page.locator(".pin-menu");
    await menu.waitFor({ state: "visible" });
    assert.ok((await menu.textContent())!.includes(target.name));
    await menu.locator("vscode-button[data-action=cold]").click();
    assert.deepEqual(await sentSince(n), [{ kind: "pin", name: target.name, tier: "cold" }]);
    assert.equal(await menu.isVisible(), false);
  });

  it("is usable from the keyboard: arrows move between cells, Enter opens the menu, Escape closes it", async () => {
    await panel.page.focus(".tier-map canvas");
    // First press shows the focus on the first tensor (wte); then right to wpe, down to block 0's nearest cell.
    for (const key of ["ArrowDown", "ArrowRight", "ArrowDown", "Enter"]) await panel.page.keyboard.press(key);
    const menu = panel.page.locator(".pin-menu");
    await menu.waitFor({ state: "visible" });
    assert.ok((await menu.textContent())!.includes("transformer.h.0.ln_1.weight"));
    await panel.page.keyboard.press("Escape");
    assert.equal(await menu.isVisible(), false);
    assert.equal(await panel.page.evaluate(() => document.activeElement?.tagName), "CANVAS");
  });

  it("renders trainer-provided strings as text, never as HTML", async () => {
    const snapshot = model.snapshot();
    const evil = "<img src=x onerror=\"document.body.dataset.pwned='1'\">";
    snapshot.tensors[0] = { ...snapshot.tensors[0], name: evil };
    snapshot.run = { ...snapshot.run!, id: evil, errorTail: [evil] };
    await panel.postAndWaitPainted({ kind: "snapshot", snapshot, seq: ++seq });
    const [first] = await cells();
    await panel.page.hover(".tier-map canvas", { position: { x: first.x, y: first.y } });
    await panel.page.locator(".tensor-card").waitFor({ state: "visible" });
    assert.ok((await panel.page.textContent(".tensor-card"))!.includes(evil));
    assert.equal(await panel.page.locator("img").count(), 0);
    assert.equal(await panel.page.evaluate(() => document.body.dataset.pwned), undefined);
  });

  it("shows bidi overrides and invisible characters in tensor names escaped, so a name cannot pass for another", async () => {
    const snapshot = model.snapshot();
    const spoof = "transformer.h.0.\u202Etxt.exe\u200B";
    snapshot.tensors[0] = { ...snapshot.tensors[0], name: spoof };
    await panel.postAndWaitPainted({ kind: "snapshot", snapshot, seq: ++seq });
    const [first] = await cells();
    await panel.page.hover(".tier-map canvas", { position: { x: first.x, y: first.y } });
    await panel.page.locator(".tensor-card").waitFor({ state: "visible" });
    const card = (await panel.page.textContent(".tensor-card"))!;
    assert.ok(card.includes("transformer.h.0.\\u{202E}txt.exe\\u{200B}"), card);
    assert.ok(!/[\u202E\u200B]/.test(card), "no raw override or zero-width character is rendered");
    const listed = await panel.page.evaluate(() => document.body.innerText);
    assert.ok(!/[\u202E\u200B]/.test(listed), "nor in the map's accessible list");
  });

  it("coalesces a burst of updates into few frames and acknowledges the latest", async () => {
    await panel.postAndWaitPainted({ kind: "snapshot", snapshot: model.snapshot(), seq: ++seq });
    const n = (await panel.sent()).length;
    const first = seq + 1;
    const burst = [];
    for (let step = 401; step <= 420; step++) {
      model.apply({ v: 1, type: "step", step, loss: 3, lr: 1e-4, step_time_ms: 10, tokens_per_s: 1000 });
      burst.push({ kind: "update" as const, update: model.takeUpdate()!, seq: ++seq });
    }
    await panel.page.evaluate((msgs) => msgs.forEach((m) => window.__himaTest!.post(m)), burst);
    await panel.page.waitForFunction((s) => window.__himaTest!.sent.some((m) => m.kind === "painted" && m.seq === s), seq);
    const painted = (await panel.sent()).slice(n).filter((m) => m.kind === "painted");
    assert.ok(painted.length < 20, `20 updates painted in ${painted.length} frames`);
    assert.ok(painted.every((m) => m.kind === "painted" && m.seq >= first));
    assert.match((await panel.page.textContent("[data-testid=run-details]"))!, /step 420/);
  });

  it("loads without CSP violations or script errors", () => {
    assert.deepEqual(panel.errors, []);
  });

  it("saves a screenshot of a freshly loaded run (test-results/panel.png)", async () => {
    const fresh = await openPanel();
    try {
      const replay = new RunModel({ maxPoints: 500 });
      for (const e of events) if (e.type !== "done") replay.apply(e);
      await fresh.postAndWaitPainted({ kind: "snapshot", snapshot: replay.snapshot(), seq: 1 });
      const target = (await fresh.page.$$eval("[data-testid=tier-cells] li", (lis) => lis.map((li) => ({ ...(li as HTMLElement).dataset }))))
        .find((d) => d.name === "transformer.h.1.mlp.c_fc.weight")!;
      await fresh.page.hover(".tier-map canvas", { position: { x: Number(target.x), y: Number(target.y) } });
      mkdirSync(RESULTS, { recursive: true });
      await fresh.page.screenshot({ path: join(RESULTS, "panel.png"), fullPage: true });
      // `HIMA_UPDATE_DOCS_SCREENSHOT=1 npm run test:panel` refreshes the README's picture.
      if (process.env.HIMA_UPDATE_DOCS_SCREENSHOT === "1") {
        mkdirSync(join(ROOT, "docs", "images"), { recursive: true });
        copyFileSync(join(RESULTS, "panel.png"), join(ROOT, "docs", "images", "panel.png"));
      }
      assert.deepEqual(fresh.errors, []);
    } finally {
      await fresh.close();
    }
  });
});
