// The panel showing a multi-process run: real torchrun recordings (a 2-process CPU run and a 4-GPU run) replayed
// through RunModel into headless Chromium. The user must see how many processes ran, the memory spread over
// ranks and the all-reduce traffic, as text in the run header, and the usual tier map.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Event, EventOf } from "../../protocol/protocol.generated";
import { readRunEvents } from "../../src/run/RunStore";
import { RunModel } from "../../src/run/RunModel";
import { openPanel, type PanelPage } from "./panelPage";

const ROOT = resolve(__dirname, "..", "..");
const RESULTS = join(ROOT, "test-results");
const MiB = 2 ** 20;
const GiB = 2 ** 30;

// Recorded from the real trainer on 2 CPU processes (gloo): `python3 -m torch.distributed.run --standalone
// --nproc-per-node 2 -m hima train --preset tiny --data <synthetic tokens> --max-steps 30 --device cpu
// --seed 1 --run-id ddp-recorded --config <batch 4, first_retier/retier_every 10, memory_every 5, eval_every 0,
// threads 1, hot 0.25, warm 0.5>`: 52 tensors, re-tiered at steps 0, 10, 20 (and 30), memory every 5 steps.
export const DDP_FIXTURE_RUN = join(ROOT, "test", "panel", "fixtures", "ddp-run");

// Recorded from the real trainer on 4x NVIDIA H200 (NCCL): torchrun --nproc-per-node 4, GPT-2 Small (148 tensors),
// method hima (hot 0.25, warm 0.5: about half the elements Cold), global batch 32 = 8 x 1024 tokens per GPU,
// 50 steps, eager, grad_sync overlap, re-tiered every 10 steps, memory every 5 (the run's hello has its config).
export const DDP_GPU_FIXTURE_RUN = join(ROOT, "test", "panel", "fixtures", "ddp-gpu-run");

type Ranks = NonNullable<EventOf<"memory">["ranks"]>;

interface Recording {
  title: string;
  dir: string;
  nproc: number;
  tensors: number;
  /** The spread the header must show: GPU allocator peak, or resident memory on CPU (no allocator there). */
  spreadOf: (r: Ranks) => { min: number; max: number };
  /**
   * The header built from the fixture's numbers with the panel's documented formatting (webview/RunHeader.ts
   * rankParts: the spread in the max's unit, one decimal below 100 and none above, one more decimal when
   * rounding would hide a difference, "<x> on every rank" when all ranks agree; bytes as format.ts formatBytes).
   */
  fromNumbers: (r: Ranks, spread: { min: number; max: number }, allreducePerStep: number) => string;
  /** The same header written out, so that a change in the formatting fails too. */
  header: string;
  /** A screenshot of the whole panel, test-results/<name>.png (docs/images/ with HIMA_UPDATE_DOCS_SCREENSHOT=1). */
  screenshot?: string;
}

const RECORDINGS: Recording[] = [
  {
    title: "2 CPU processes (gloo)",
    dir: DDP_FIXTURE_RUN,
    nproc: 2,
    tensors: 52,
    spreadOf: (r) => r.rss_bytes!,
    // 552.14 and 552.26 MiB: whole MiB would read 552–552, so one decimal; 2.5 MiB all-reduce, below 100: one decimal.
    fromNumbers: (r, s, ar) =>
      `${r.nproc} processes · resident memory per rank ${(s.min / MiB).toFixed(1)}–${(s.max / MiB).toFixed(1)} MiB · all-reduce ${(ar / MiB).toFixed(1)} MiB/step`,
    header: "2 processes · resident memory per rank 552.1–552.3 MiB · all-reduce 2.5 MiB/step",
  },
  {
    title: "4 GPUs (NCCL, recorded on 4x H200)",
    dir: DDP_GPU_FIXTURE_RUN,
    nproc: 4,
    tensors: 148,
    spreadOf: (r) => r.peak_bytes!,
    // Every rank peaked at the same 5.6 GiB; the all-reduce is above 100 MiB, so whole MiB.
    fromNumbers: (r, s, ar) => {
      assert.equal(s.min, s.max, "the fixture's ranks all peaked at the same bytes");
      return `${r.nproc} processes · peak memory per rank ${(s.max / GiB).toFixed(1)} GiB on every rank · all-reduce ${Math.round(ar / MiB)} MiB/step`;
    },
    header: "4 processes · peak memory per rank 5.6 GiB on every rank · all-reduce 155 MiB/step",
    screenshot: "panel-4gpu",
  },
];

/**
 * The all-reduce bytes per step the header must show: the last memory event's, unless that one is a closing
 * event at the same step as the one before (it covers no steps, so older trainers report 0 there).
 */
function reportedAllreduce(memory: EventOf<"memory">[]): number {
  const [before, last] = memory.slice(-2);
  const covering = before && before.step === last.step ? before : last;
  return covering.ranks!.allreduce_bytes_per_step!;
}

/** Each shown chart's heading text (without its controls), by name (GPU charts are hidden: no NVML figures here). */
async function chartTitles(panel: PanelPage): Promise<Record<string, string>> {
  return Object.fromEntries(await panel.page.$$eval(".chart:not([hidden])", (els) => els.map((e) => [(e as HTMLElement).dataset.chart, e.querySelector("h3 > span")!.textContent])));
}

for (const rec of RECORDINGS) {
  describe(`panel with a multi-process (torchrun) run: ${rec.title} (headless Chromium)`, () => {
    let panel: PanelPage;
    let events: Event[];
    let memory: EventOf<"memory">[];

    before(async () => {
      const read = await readRunEvents(rec.dir);
      assert.equal(read.skipped, 0, "fixture events are all valid");
      events = read.events;
      memory = events.filter((e): e is EventOf<"memory"> => e.type === "memory");
      const model = new RunModel();
      model.setStatus("replay");
      for (const e of events) model.apply(e);
      panel = await openPanel();
      await panel.postAndWaitPainted({ kind: "snapshot", snapshot: model.snapshot(), seq: 1 });
    });

    after(async () => {
      await panel?.close();
    });

    it("shows the process count, the per-rank memory spread and the all-reduce bytes per step as text in the header", async () => {
      assert.equal(await panel.page.isVisible("[data-testid=run-ranks]"), true, "the per-rank line is visible");
      const text = (await panel.page.textContent("[data-testid=run-ranks]"))!;
      const ranks = memory.at(-1)!.ranks!;
      assert.equal(ranks.nproc, rec.nproc);
      assert.equal(text, rec.fromNumbers(ranks, rec.spreadOf(ranks), reportedAllreduce(memory)), "the header shows the last memory event's figures");
      assert.equal(text, rec.header);
      // A panel too narrow for the whole line (this one, for the 4-GPU line) wraps it between its parts, never
      // inside one ("all-\nreduce", "155\nMiB").
      const lines = await panel.page.$$eval("[data-testid=run-ranks] > span", (spans) => spans.map((s) => [s.textContent, s.getClientRects().length]));
      assert.deepEqual(lines, rec.header.split(" · ").map((part) => [part, 1]), "each part of the line on one line");
      // The line sits in the run header, next to the run's title and details, not lower down the panel.
      assert.equal(await panel.page.$eval("[data-testid=run-ranks]", (el) => el.closest("header.run-header") !== null), true);
      assert.deepEqual(panel.errors, []);
    });

    it("draws one tier-map cell per tensor, in its tier of the last re-tier, and all three tiers", async () => {
      const last = events.filter((e): e is EventOf<"tiers"> => e.type === "tiers").at(-1)!;
      assert.equal(last.tensors.length, rec.tensors);
      const cells = await panel.page.$$eval("[data-testid=tier-cells] li", (lis) => lis.map((li) => ({ ...(li as HTMLElement).dataset })));
      assert.equal(cells.length, rec.tensors);
      assert.equal(new Set(cells.map((c) => `${c.x},${c.y}`)).size, cells.length, "no two tensors share a cell");
      const expected = new Map(last.tensors.map((t) => [t.name, t.tier]));
      for (const c of cells) assert.equal(c.tier, expected.get(c.name!), `${c.name}'s tier`);
      assert.deepEqual(new Set(cells.map((c) => c.tier)), new Set(["hot", "warm", "cold"]), "the run re-tiered into all three tiers");
      const legend = (await panel.page.textContent("[data-testid=tier-legend]"))!;
      for (const tier of ["hot", "warm", "cold"] as const) {
        const label = tier[0].toUpperCase() + tier.slice(1);
        assert.match(legend, new RegExp(`${label} ${last.counts[tier].tensors} \\(`), `the legend's ${label} count`);
      }
    });

    it("says whose figures the charts show: tokens/s of all processes, memory of rank 0, optimizer state of each rank", async () => {
      assert.deepEqual(await chartTitles(panel), {
        loss: "Loss",
        throughput: `Tokens / s (all ${rec.nproc} processes)`,
        memory: "Memory (rank 0)",
        optimizerState: "Optimizer state (each rank)",
        tierCounts: "Tensors per tier",
      });
    });

    if (rec.screenshot) {
      const name = rec.screenshot;
      it(`saves a screenshot of the whole panel (test-results/${name}.png)`, async () => {
        mkdirSync(RESULTS, { recursive: true });
        await panel.page.screenshot({ path: join(RESULTS, `${name}.png`), fullPage: true });
        // `HIMA_UPDATE_DOCS_SCREENSHOT=1 npm run test:panel` refreshes the docs' picture.
        if (process.env.HIMA_UPDATE_DOCS_SCREENSHOT === "1") {
          mkdirSync(join(ROOT, "docs", "images"), { recursive: true });
          copyFileSync(join(RESULTS, `${name}.png`), join(ROOT, "docs", "images", `${name}.png`));
        }
        assert.deepEqual(panel.errors, []);
      });
    }

    it("hides the per-rank line for a one-process run, and the charts' rank notes", async () => {
      await panel.postAndWaitPainted({ kind: "update", update: { rankMemory: null }, seq: 2 });
      assert.equal(await panel.page.isVisible("[data-testid=run-ranks]"), false);
      const titles = await chartTitles(panel);
      assert.equal(titles.throughput, "Tokens / s");
      assert.equal(titles.memory, "Memory");
      assert.equal(titles.optimizerState, "Optimizer state");
    });
  });
}
