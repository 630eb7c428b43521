// The journey's second half (issue 15): the Runs view in the real VS Code. A recorded tiny run (the panel
// tests' fixture) joins the run the journey just trained -> HiMA: Show Runs lists both -> ticking both overlays
// them (summary table against the baseline, every chart one line per run) -> "Markdown report" asks where to
// save (VS Code's save dialog) and writes the comparison -> the journey run's tier timeline scrubs the tier map
// back to its first re-tier.
import { cpSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { assert, type StepRunner, waitUntil } from "./steps";
import { editorWebview, runCommand, typeIntoFileDialog } from "./workbench";

const RECORDED = "tiny-recorded";

export async function compareAndExport(steps: StepRunner, page: Page, opts: { repo: string; ws: string; runsDir: string; runId: string; shot: (name: string) => Promise<void> }): Promise<void> {
  const { ws, runsDir, runId } = opts;
  const view = editorWebview(page);
  const row = (id: string) => view.locator(`[data-testid=runs-table] tbody tr[data-id="${id}"]`);

  await steps.step("F1 HiMA: Show Runs lists every run in the runs folder, with its figures", async () => {
    cpSync(join(opts.repo, "test", "panel", "fixtures", "tiny-run"), join(runsDir, RECORDED), { recursive: true });
    await runCommand(page, "HiMA: Show Runs");
    await row(runId).waitFor({ state: "visible", timeout: 30_000 });
    await row(RECORDED).waitFor({ state: "visible", timeout: 10_000 });
    const status = await row(runId).locator('td[data-column="status"]').innerText();
    assert(status === "stopped", `the journey's run shows status "${status}", expected stopped`);
    const steps73 = await row(RECORDED).locator('td[data-column="steps"]').innerText();
    assert(steps73 === "73", `the recorded run shows ${steps73} steps, expected 73`);
  });

  await steps.step("ticking both runs compares them: summary table against the baseline, one line per run on every chart", async () => {
    await row(RECORDED).locator("td.pick input").check();
    await row(runId).locator("td.pick input").check();
    await view.locator("[data-testid=baseline]").selectOption(RECORDED);
    await waitUntil("two rows in the comparison table", async () => ((await view.locator("[data-testid=compare-table] tr[data-id]").count()) === 2 ? true : undefined), 30_000);
    const baseRow = await view.locator('[data-testid=compare-table] tr[data-baseline="true"]').innerText();
    assert(baseRow.includes(RECORDED) && baseRow.includes("(baseline)"), `the baseline row reads "${baseRow.replace(/\s+/g, " ")}"`);
    const loss = view.locator('.overlay-chart[data-chart="loss_smoothed"]');
    await waitUntil("the smoothed-loss chart with both runs", async () => ((await loss.getAttribute("data-runs")) === "2" && Number(await loss.getAttribute("data-points")) > 0 ? true : undefined), 30_000);
    const legend = await loss.locator(".u-legend .u-series").count();
    assert(legend === 3, `the smoothed-loss legend has ${legend} entries, expected step + 2 runs`);
    // The side bar (tier panel) closed, so the screenshot shows the comparison at full width.
    await runCommand(page, "View: Close Primary Side Bar").catch((err: Error) => console.log(`  (could not close the side bar: ${err.message})`));
    await page.waitForTimeout(500);
    await opts.shot("e2e-05-compare");
  });

  await steps.step("Markdown report: VS Code's save dialog, then the comparison is written there", async () => {
    const target = join(ws, "hima-comparison.md");
    await view.locator("button[data-export=markdown]").click();
    await typeIntoFileDialog(page, target);
    await page.keyboard.press("Enter");
    const text = await waitUntil(`${target} written`, () => (existsSync(target) ? readFileSync(target, "utf8") : undefined), 30_000);
    assert(text.startsWith("# HiMA run comparison"), `the report starts with: ${text.slice(0, 60)}`);
    assert(text.includes(`baseline **${RECORDED}**`) && text.includes(runId), "the report names the baseline and the journey's run");
  });

  await steps.step("the journey run's tier timeline scrubs the tier map back to its first re-tier", async () => {
    await row(runId).locator('td[data-column="name"]').click();
    await view.locator("[data-testid=run-details-pane] button[data-action=timeline]").click();
    const label = view.locator("[data-testid=timeline-step]");
    await waitUntil("the timeline at the run's last re-tier", async () => (Number(await label.getAttribute("data-step")) > 0 ? true : undefined), 30_000);
    await view.locator("[data-testid=timeline-scrub]").fill("0");
    await waitUntil("the tier map at the first re-tier", async () => ((await label.getAttribute("data-step")) === "0" ? true : undefined), 10_000);
    const tiers = await view.locator("[data-testid=timeline] [data-testid=tier-cells] li").evaluateAll((lis) => lis.map((li) => (li as HTMLElement).dataset.tier));
    assert(tiers.length > 0 && tiers.every((t) => t === "hot"), `at step 0 every tensor should be Hot (the first re-tier is later): ${[...new Set(tiers)].join(", ")}`);
    await opts.shot("e2e-05b-timeline");
  });
}
