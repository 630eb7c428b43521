// The tier map and the controls in headless Chromium: a pin the user set looks different from the policy's
// pins (norms, biases); when a pin keeps the cutoffs from being reached the legend says requested vs achieved
// and why; tiers carry corner marks besides colour (also in the legend); the control history keeps every
// control in a scrollable list with a mine/all filter.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import type { Event, EventOf } from "../../protocol/protocol.generated";
import { readRunEvents } from "../../src/run/RunStore";
import { RunModel } from "../../src/run/RunModel";
import { openPanel, type PanelPage } from "./panelPage";

const ROOT = resolve(__dirname, "..", "..");
const FIXTURE_RUN = join(ROOT, "test", "panel", "fixtures", "tiny-run");
const THEME = { "--vscode-charts-red": "#ff0000", "--vscode-charts-orange": "#ffa500", "--vscode-charts-blue": "#0000ff", "--vscode-editor-background": "#000000", "--vscode-focusBorder": "#00ff00", "--vscode-descriptionForeground": "#808080" };

describe("tier map and controls (headless Chromium)", () => {
  let panel: PanelPage;
  let model: RunModel;
  let events: Event[];
  let seq = 0;
  let embedding = "";

  const cells = () => panel.page.$$eval("[data-testid=tier-cells] li", (lis) => lis.map((li) => {
    const d = (li as HTMLElement).dataset;
    return { name: d.name!, tier: d.tier!, pinned: d.pinned === "true", source: d.pinSource!, x: Number(d.x), y: Number(d.y), text: li.textContent! };
  }));
  const pixel = (x: number, y: number) => panel.page.$eval(".tier-map canvas", (c, [x, y]) => {
    const canvas = c as HTMLCanvasElement;
    const scale = canvas.width / canvas.getBoundingClientRect().width;
    return Array.from(canvas.getContext("2d")!.getImageData(Math.round(x * scale), Math.round(y * scale), 1, 1).data.slice(0, 3));
  }, [x, y]);
  const send = async () => {
    const update = model.takeUpdate();
    if (update) await panel.postAndWaitPainted({ kind: "update", update, seq: ++seq });
  };

  before(async () => {
    events = (await readRunEvents(FIXTURE_RUN)).events;
    const hello = events[0] as EventOf<"hello">;
    embedding = hello.tensors.find((t) => t.kind === "wte")!.name;
    model = new RunModel({ maxPoints: 500 });
    const lastTiers = events.map((e, i) => [e, i] as const).filter(([e]) => e.type === "tiers").at(-1)![1];
    for (const e of events.slice(0, lastTiers)) model.apply(e);
    panel = await openPanel();
    await panel.page.evaluate((vars) => {
      for (const [k, v] of Object.entries(vars)) document.body.style.setProperty(k, v);
      document.body.className = "vscode-dark";
    }, THEME);
    await panel.postAndWaitPainted({ kind: "snapshot", snapshot: model.snapshot(), seq: ++seq });
  });

  after(async () => {
    await panel?.close();
  });

  it("the policy's pins are marked small and muted", async () => {
    const pinned = (await cells()).filter((c) => c.pinned);
    assert.ok(pinned.length > 10, "the tiny model pins its norms and biases");
    assert.ok(pinned.every((c) => c.source === "policy" && /pinned by policy/.test(c.text)));
  });

  it("the user pins the embedding Cold and asks warm=0.8: the pin stands out, and the legend says why Cold stays high", async () => {
    model.trackControl("me-1", { v: 1, id: "me-1", type: "pin", name: embedding, tier: "cold" });
    model.trackControl("me-2", { v: 1, id: "me-2", type: "set_cutoffs", hot: 0.3, warm: 0.8 });
    model.apply({ v: 1, type: "ack", id: "me-1", control: "pin", effective_step: 50 });
    model.apply({ v: 1, type: "ack", id: "me-2", control: "set_cutoffs", effective_step: 50 });
    // The re-tier at step 50 as the trainer would send it with the pin: the embedding Cold and pinned.
    const original = events.filter((e) => e.type === "tiers").at(-1) as EventOf<"tiers">;
    const hello = events[0] as EventOf<"hello">;
    const numel = new Map(hello.tensors.map((t) => [t.name, t.numel]));
    const tensors = original.tensors.map((t) => (t.name === embedding ? { ...t, tier: "cold" as const, pinned: true } : t));
    const counts = { hot: { tensors: 0, elements: 0 }, warm: { tensors: 0, elements: 0 }, cold: { tensors: 0, elements: 0 } };
    for (const t of tensors) {
      counts[t.tier].tensors++;
      counts[t.tier].elements += numel.get(t.name)!;
    }
    model.apply({ ...original, cutoffs: { hot: 0.3, warm: 0.8 }, tensors, counts });
    await send();
    const cell = (await cells()).find((c) => c.name === embedding)!;
    assert.equal(cell.source, "user");
    assert.match(cell.text, /cold, pinned by you/);
    const all = await cells();
    const policyCell = all.find((c) => c.source === "policy")!;
    // Upper-right corner, just inside: the user's pin is drawn in the focus colour (green), a policy pin is not.
    const cellSize = await panel.page.evaluate(() => {
      const lis = Array.from(document.querySelectorAll("[data-testid=tier-cells] li")) as HTMLElement[];
      const xs = [...new Set(lis.map((l) => Number(l.dataset.x)))].sort((a, b) => a - b);
      return xs[1] - xs[0];
    });
    const half = (cellSize - 2) / 2;
    const userCorner = await pixel(cell.x + half - 2, cell.y - half + 1.5);
    const policyCorner = await pixel(policyCell.x + half - 2, policyCell.y - half + 1.5);
    assert.deepEqual(userCorner, [0, 255, 0], "the user's pin is drawn in the focus colour");
    assert.notDeepEqual(policyCorner, [0, 255, 0]);
    const note = await panel.page.textContent("[data-testid=shares-note]");
    assert.equal(await panel.page.isVisible("[data-testid=shares-note]"), true);
    assert.match(note!, /Cold \d+% \(asked 20%\)/);
    assert.match(note!, /pins/);
  });

  it("Warm and Cold cells carry corner marks (lower-left cut-outs); Hot cells are solid", async () => {
    const cellSize = await panel.page.evaluate(() => {
      const lis = Array.from(document.querySelectorAll("[data-testid=tier-cells] li")) as HTMLElement[];
      const xs = [...new Set(lis.map((l) => Number(l.dataset.x)))].sort((a, b) => a - b);
      return xs[1] - xs[0];
    });
    const half = (cellSize - 2) / 2;
    const all = (await cells()).filter((c) => !c.pinned);
    for (const tier of ["hot", "warm", "cold"]) {
      const c = all.find((x) => x.tier === tier) ?? (await cells()).find((x) => x.tier === tier && x.source !== "user");
      if (!c) continue;
      const lowerLeft = await pixel(c.x - half + 1, c.y + half - 1);
      const upperLeft = await pixel(c.x - half + 1, c.y - half + 1);
      const isBackground = (p: number[]) => p.every((v) => v === 0);
      assert.equal(isBackground(lowerLeft), tier !== "hot", `${tier}: lower-left notch`);
      assert.equal(isBackground(upperLeft), tier === "cold", `${tier}: upper-left notch`);
    }
    assert.equal(await panel.page.locator("[data-testid=tier-legend] canvas.swatch").count(), 3, "legend swatches carry the marks");
  });

  it("the tier map exports as a PNG named after its step", async () => {
    const n = (await panel.sent()).length;
    await panel.page.click("[data-testid=png-tiermap]");
    const m = (await panel.sent()).slice(n).find((x) => x.kind === "savePng");
    assert.ok(m && m.kind === "savePng");
    assert.equal(m.name, "tier-map-step-50.png");
    assert.equal(Buffer.from(m.dataUrl.slice(m.dataUrl.indexOf(",") + 1), "base64").subarray(1, 4).toString("latin1"), "PNG");
  });

  it("the control history keeps every control, scrolls, and filters to mine", async () => {
    for (let i = 0; i < 12; i++) model.apply({ v: 1, type: "rejected", id: null, reason: `bad line ${i} from another client` });
    await send();
    const items = () => panel.page.$$eval("[data-testid=control-list] li", (lis) => lis.map((li) => li.textContent!));
    const all = await items();
    assert.equal(all.length, 14, "no cap at 8 entries");
    assert.match(all[0], /bad line 11/);
    assert.ok(all.some((t) => /pin .* to cold — applied at step 50/.test(t)), "the user's own pin is still listed");
    const scroll = await panel.page.$eval("[data-testid=control-list]", (el) => [el.scrollHeight, el.clientHeight]);
    assert.ok(scroll[0] > scroll[1], "the list scrolls");
    await panel.page.check("[data-testid=history-mine]");
    const mine = await items();
    assert.deepEqual(mine.map((t) => t.replace(/ — .*/, "")), ["set_cutoffs hot=0.30 warm=0.80", `pin ${embedding} to cold`]);
    await panel.page.check("[data-testid=history-all]");
    assert.equal((await items()).length, 14);
    assert.deepEqual(panel.errors, []);
  });
});
