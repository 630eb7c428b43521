// The panel showing a multi-process run: a real 2-process torchrun recording (fixtures/ddp-run/events.jsonl)
// replayed through RunModel into headless Chromium. The user must see how many processes ran, the memory
// spread over ranks and the all-reduce traffic, as text in the run header, and the usual tier map.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import type { PanelSnapshot } from "../../common/messages";
import type { EventOf } from "../../protocol/protocol.generated";
import { readRunEvents } from "../../src/run/RunStore";
import { RunModel } from "../../src/run/RunModel";
import { openPanel, type PanelPage } from "./panelPage";

// Recorded from the real trainer on 2 CPU processes (gloo): `python3 -m torch.distributed.run --standalone
// --nproc-per-node 2 -m hima train --preset tiny --data <synthetic tokens> --max-steps 30 --device cpu
// --seed 1 --run-id ddp-recorded --config <batch 4, first_retier/retier_every 10, memory_every 5, eval_every 0,
// threads 1, hot 0.25, warm 0.5>`: 52 tensors, re-tiered at steps 0, 10, 20 (and 30), memory every 5 steps.
export const DDP_FIXTURE_RUN = join(resolve(__dirname, "..", ".."), "test", "panel", "fixtures", "ddp-run");

describe("panel with a multi-process (torchrun) run (headless Chromium)", () => {
  let panel: PanelPage;
  let snapshot: PanelSnapshot;
  let lastRanks: NonNullable<EventOf<"memory">["ranks"]>;

  before(async () => {
    const { events, skipped } = await readRunEvents(DDP_FIXTURE_RUN);
    assert.equal(skipped, 0, "fixture events are all valid");
    const model = new RunModel();
    model.setStatus("replay");
    for (const e of events) model.apply(e);
    snapshot = model.snapshot();
    lastRanks = events.filter((e): e is EventOf<"memory"> => e.type === "memory").at(-1)!.ranks!;
    panel = await openPanel();
    await panel.postAndWaitPainted({ kind: "snapshot", snapshot, seq: 1 });
  });

  after(async () => {
    await panel?.close();
  });

  it("shows the process count, the per-rank memory spread and the all-reduce bytes per step as text in the header", async () => {
    assert.equal(await panel.page.isVisible("[data-testid=run-ranks]"), true, "the per-rank line is visible");
    const text = (await panel.page.textContent("[data-testid=run-ranks]"))!;
    // CPU ranks have no allocator peak: the spread is resident memory. The two ranks' figures are 552.14 and
    // 552.26 MiB, so one decimal is needed to show that they differ.
    assert.equal(lastRanks.rss_bytes!.min, 578961408);
    assert.equal(lastRanks.rss_bytes!.max, 579084288);
    assert.equal(text, "2 processes · resident memory per rank 552.1–552.3 MiB · all-reduce 2.5 MiB/step");
    // The line sits in the run header, next to the run's title and details, not lower down the panel.
    assert.equal(await panel.page.$eval("[data-testid=run-ranks]", (el) => el.closest("header.run-header") !== null), true);
    assert.deepEqual(panel.errors, []);
  });

  it("draws one tier-map cell per tensor, in the tiers of the last re-tier", async () => {
    const cells = await panel.page.$$eval("[data-testid=tier-cells] li", (lis) => lis.map((li) => ({ ...(li as HTMLElement).dataset })));
    assert.equal(snapshot.tensors.length, 52);
    assert.equal(cells.length, snapshot.tensors.length);
    assert.equal(new Set(cells.map((c) => `${c.x},${c.y}`)).size, cells.length, "no two tensors share a cell");
    cells.forEach((c, i) => {
      assert.equal(c.name, snapshot.tensors[i].name);
      assert.equal(c.tier, snapshot.tiers[i].tier, `${c.name}'s tier`);
    });
    assert.deepEqual(new Set(cells.map((c) => c.tier)), new Set(["hot", "warm", "cold"]), "the run re-tiered into all three tiers");
  });

  it("hides the per-rank line for a one-process run", async () => {
    await panel.postAndWaitPainted({ kind: "update", update: { rankMemory: null }, seq: 2 });
    assert.equal(await panel.page.isVisible("[data-testid=run-ranks]"), false);
  });
});
