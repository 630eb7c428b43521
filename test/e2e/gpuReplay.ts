// A real 4-GPU run replayed in the real VS Code: the recording the panel tests use (test/panel/fixtures/ddp-gpu-run:
// torchrun on 4x H200, GPT-2 Small, HiMA with about half the elements Cold) is copied into the workspace's runs
// folder -> HiMA: Open Run lists it -> picking it replays it: the run header's per-rank line (4 processes, GPU peak
// per rank, all-reduce per step) and the tier map in the run's final tiers, all three of them. No trainer runs.
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { panelCells, panelRun, pickQuickItem, TIERS, waitForStatus } from "./panel";
import { readRun } from "./runFolder";
import { keepShot, openStoryPage, storyWorkspace, type StoryContext } from "./story";
import { assert, type StepRunner, waitUntil } from "./steps";
import { quickPickItems, runCommand, sideBarWebview, widenSideBar } from "./workbench";

const RECORDING = ["test", "panel", "fixtures", "ddp-gpu-run", "events.jsonl"];
/** The recording's own run id (its hello's run_id), used as its folder name as the trainer would. */
const RUN_ID = "small-hima-overlap-n4";
/** What the run header says for it; built from the recording's numbers in test/panel/ddpPanel.test.ts. */
const RANKS_LINE = "4 processes · peak memory per rank 5.6 GiB on every rank · all-reduce 155 MiB/step";

export async function fourGpuReplayStory(ctx: StoryContext, steps: StepRunner): Promise<void> {
  const ws = storyWorkspace(ctx);
  // In place before the window opens, as a run folder left by an earlier training (the workspace then
  // activates the extension through its `workspaceContains:.hima/runs`).
  mkdirSync(join(ws.runsDir, RUN_ID), { recursive: true });
  copyFileSync(join(ctx.env.repo, ...RECORDING), join(ws.runsDir, RUN_ID, "events.jsonl"));
  const run = readRun(ws.runsDir, RUN_ID);
  const page = await openStoryPage(ctx, steps, ws);
  const panel = sideBarWebview(page);

  await steps.step("the recording in the runs folder is a finished 4-process run", async () => {
    assert(run.badLines === 0, `${run.badLines} line(s) of the recording are not JSON`);
    assert(run.hello?.nproc === 4, `its hello says nproc ${run.hello?.nproc}, expected 4`);
    assert(run.done?.reason === "completed", `it ends with ${run.done ? `done (${run.done.reason})` : "no done"}`);
  });

  await steps.step("F1 HiMA: Open Run lists the recorded run (hima · small · 50 steps) and opens it", async () => {
    await runCommand(page, "HiMA: Open Run");
    const items = await quickPickItems(page);
    const item = items.find((i) => i.includes(RUN_ID));
    assert(item !== undefined, `Open Run does not list ${RUN_ID}: ${items.join(" | ") || "no items"}`);
    assert(item.includes("hima · small · 50 steps"), `Open Run lists it as "${item.replace(/\s+/g, " ")}", expected method, preset and 50 steps`);
    await pickQuickItem(page, RUN_ID);
  });

  await steps.step("the panel replays the run to its end (replay, step 50 / 50)", async () => {
    await waitForStatus(panel, "replay", 30_000);
    const shown = await panelRun(panel);
    assert(shown.title.includes(RUN_ID), `the panel shows run "${shown.title}", not ${RUN_ID}`);
    assert(shown.details.includes("step 50 / 50"), `the run details read "${shown.details}", expected step 50 / 50`);
    // Room for the tier map and its labels in the screenshot.
    await widenSideBar(page, 720).catch((err: Error) => console.log(`  (could not widen the side bar: ${err.message})`));
  });

  await steps.step(`the run header's per-rank line reads "${RANKS_LINE}"`, async () => {
    const line = panel.locator('[data-testid="run-ranks"]');
    await line.waitFor({ state: "visible", timeout: 10_000 }).catch((err: Error) => {
      throw new Error(`the run header shows no per-rank line: ${err.message.split("\n")[0]}`);
    });
    const text = (await line.innerText()).replace(/\s+/g, " ").trim();
    assert(text === RANKS_LINE, `the per-rank line reads "${text}"`);
  });

  await steps.step("the tier map shows every tensor in its final tier (the last tiers event), all three tiers", async () => {
    const last = run.tiers.at(-1)!;
    const expected = new Map(last.tensors.map((t) => [t.name, t.tier]));
    let seen = "nothing yet";
    await waitUntil("cells equal to the recording's last tiers event", async () => {
      const cells = await panelCells(panel);
      const wrong = cells.filter((c) => expected.get(c.name) !== c.tier);
      seen = `${cells.length} cells, ${wrong.length} not in their final tier`;
      return cells.length === expected.size && wrong.length === 0 ? cells : undefined;
    }, 30_000).then((cells) => {
      const present = new Set(cells.map((c) => c.tier));
      assert(TIERS.every((t) => present.has(t)), `the tier map shows only ${[...present].join(", ")}`);
    }, (err: Error) => {
      throw new Error(`${err.message}; the panel shows ${seen} (the recording has ${expected.size} tensors)`);
    });
    await keepShot(ctx, steps, "e2e-11-four-gpu-replay");
  });
  await page.context().close();
}
