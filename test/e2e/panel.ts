// Reads the HiMA side panel the way a user looks at it (the tier map's cell list, the legend, the run header)
// and drives its cutoff controls. Shared by the journey and the robustness stories.
import type { FrameLocator, Page } from "playwright-core";
import { readRun } from "./runFolder";
import { assert, GiveUp, waitUntil } from "./steps";

export const TIERS = ["hot", "warm", "cold"] as const;

export interface PanelCell {
  name: string;
  tier: string;
}

/** The tier map's cells, from the list that mirrors the canvas (one item per tensor). */
export async function panelCells(panel: FrameLocator): Promise<PanelCell[]> {
  const items = panel.locator('[data-testid="tier-cells"] li');
  return items.evaluateAll((els) => els.map((e) => ({ name: (e as HTMLElement).dataset.name ?? "", tier: (e as HTMLElement).dataset.tier ?? "" })));
}

/** The legend's tensor count for a tier: "Hot 12 (31%)". */
export async function legendCount(panel: FrameLocator, tier: string): Promise<number | undefined> {
  const text = await panel.locator(`[data-testid="tier-legend"] [data-tier="${tier}"]`).innerText({ timeout: 2000 });
  const m = /(\d+)\s*\(/.exec(text);
  return m ? Number(m[1]) : undefined;
}

/** The run header: its status (data-status) and the step it shows ("step 42 / 5000"). */
export async function panelRun(panel: FrameLocator): Promise<{ title: string; status: string; step: number | undefined; details: string }> {
  const title = panel.locator(".run-title");
  const details = await panel.locator('[data-testid="run-details"]').innerText({ timeout: 2000 }).catch(() => "");
  const m = /step (\d+)/.exec(details);
  return {
    title: await title.innerText({ timeout: 2000 }).catch(() => ""),
    status: (await title.getAttribute("data-status", { timeout: 2000 }).catch(() => null)) ?? "",
    step: m ? Number(m[1]) : undefined,
    details,
  };
}

/** Waits until the panel shows run `runId` with one tiered cell per tensor; returns the cells. */
export async function waitForFilledTierMap(panel: FrameLocator, nTensors: number, timeoutMs: number): Promise<PanelCell[]> {
  let seen = "nothing yet";
  return waitUntil(`${nTensors} tier-map cells, each with a tier`, async () => {
    const cells = await panelCells(panel);
    seen = `${cells.length} cells, ${cells.filter((c) => c.tier).length} with a tier`;
    return cells.length === nTensors && cells.every((c) => c.tier) ? cells : undefined;
  }, timeoutMs).catch((err: Error) => {
    throw new Error(`${err.message}; the panel shows ${seen} (the trainer announced ${nTensors} tensors)`);
  });
}

/** Waits until the panel's step passes `after` (the run is live: steps keep coming); returns the step shown. */
export async function waitForStepPast(panel: FrameLocator, after: number, timeoutMs: number): Promise<number> {
  let seen = "";
  return waitUntil(`the panel's step to pass ${after}`, async () => {
    const run = await panelRun(panel);
    seen = run.details || "(no run details)";
    return run.step !== undefined && run.step > after ? run.step : undefined;
  }, timeoutMs).catch((err: Error) => {
    throw new Error(`${err.message}; the panel shows: ${seen.replace(/\s+/g, " ")}`);
  });
}

/**
 * Waits until the tier map shows hot, warm and cold cells: the trainer's first re-tier has reached the panel.
 * Before it every tensor is Hot, so a raised Hot cutoff cannot show as a rise: a story that changes cutoffs
 * waits for this first (the reload story once raised Hot right after a quick reload, before step 25's re-tier,
 * and waited in vain for Hot to pass the total).
 */
export async function waitForAllTiers(panel: FrameLocator, runsDir: string, runId: string, timeoutMs: number): Promise<void> {
  let seen = "";
  let trainerHadAllTiersAt = 0;
  await waitUntil("a tier map with hot, warm and cold cells", async () => {
    const cells = await panelCells(panel);
    const present = new Set(cells.map((c) => c.tier));
    seen = TIERS.map((x) => `${x} ${cells.filter((c) => c.tier === x).length}`).join(", ");
    if (TIERS.every((x) => present.has(x))) return true;
    // Once the trainer has logged all three tiers, the panel gets 30 s to show them, not the full timeout.
    const logged = readRun(runsDir, runId).tiers.some((e) => TIERS.every((x) => e.counts[x].tensors > 0));
    if (logged && !trainerHadAllTiersAt) trainerHadAllTiersAt = Date.now();
    if (trainerHadAllTiersAt && Date.now() - trainerHadAllTiersAt > 30_000) throw new GiveUp("the trainer re-tiered into all three tiers over 30 s ago");
    return undefined;
  }, timeoutMs, 500).catch((err: Error) => {
    const r = readRun(runsDir, runId);
    const last = r.tiers.at(-1);
    const trainer = last ? TIERS.map((x) => `${x} ${last.counts[x].tensors}`).join(", ") : "no tiers event";
    throw new Error(`${err.message}; the panel shows ${seen}; the trainer's last tiers event (step ${last?.step ?? "-"}): ${trainer}`);
  });
}

/**
 * Raises the Hot cutoff well into the Warm range in the panel and presses Apply (more elements Hot, so more
 * tensors must be). Returns the legend's Hot count before and the new cutoff.
 */
export async function raiseHotCutoff(panel: FrameLocator): Promise<{ hotBefore: number; newHot: number }> {
  const hotBefore = (await legendCount(panel, "hot")) ?? NaN;
  assert(Number.isFinite(hotBefore), "the legend shows no Hot count");
  const hotField = panel.locator('vscode-textfield[aria-label="Hot cutoff"] input');
  const warmField = panel.locator('vscode-textfield[aria-label="Warm cutoff"] input');
  const hot = Number(await hotField.inputValue());
  const warm = Number(await warmField.inputValue());
  const newHot = Number(Math.min(warm, Math.max(hot + 0.25, 0.5)).toFixed(2));
  assert(newHot > hot, `cannot raise Hot above ${hot} (warm ${warm})`);
  await hotField.fill(String(newHot));
  const apply = panel.locator('[data-testid="apply-cutoffs"]');
  await waitUntil("an enabled Apply button", async () => ((await apply.getAttribute("disabled")) === null ? true : undefined), 10_000);
  await apply.click();
  return { hotBefore, newHot };
}

/** Waits for an acked control in the panel's list; it must say at which step it took effect. */
export async function waitForAck(panel: FrameLocator, timeoutMs: number): Promise<string> {
  const acked = panel.locator('[data-testid="control-list"] li[data-state="acked"]');
  await acked.first().waitFor({ state: "visible", timeout: timeoutMs });
  const text = await acked.first().innerText();
  assert(/step\s+\d+/.test(text), `the ack does not say at which step it took effect: "${text}"`);
  return text;
}

/** Waits until the legend's Hot count rises above `hotBefore` and matches a trainer re-tier with hot = newHot. */
export async function waitForHotRise(panel: FrameLocator, runsDir: string, runId: string, hotBefore: number, newHot: number, timeoutMs: number): Promise<number> {
  const hotAfter = await waitUntil(`a Hot count above ${hotBefore}`, async () => {
    const n = await legendCount(panel, "hot");
    return n !== undefined && n > hotBefore ? n : undefined;
  }, timeoutMs);
  const r = readRun(runsDir, runId);
  // Later periodic re-tiers (same cutoffs, new scores) may have moved the count again: any of them may be on screen.
  const retiers = r.tiers.filter((t) => Math.abs(t.cutoffs.hot - newHot) < 1e-9);
  assert(retiers.length > 0, `the trainer logged no tiers event with hot=${newHot}`);
  assert(
    retiers.some((t) => t.counts.hot.tensors === hotAfter),
    `panel shows Hot ${hotAfter}, the trainer's re-tiers with hot=${newHot} say ${retiers.map((t) => t.counts.hot.tensors).join(", ")}`,
  );
  return hotAfter;
}

/** Waits for the panel's run title to show a status. */
export async function waitForStatus(panel: FrameLocator, status: string, timeoutMs: number): Promise<void> {
  await panel.locator(`.run-title[data-status="${status}"]`).waitFor({ state: "visible", timeout: timeoutMs }).catch(async (err: Error) => {
    const run = await panelRun(panel);
    throw new Error(`the panel does not show status "${status}" (it shows "${run.title.replace(/\s+/g, " ")}"): ${err.message.split("\n")[0]}`);
  });
}

/** Types into an open quick pick's filter and accepts the row that contains `text`. */
export async function pickQuickItem(page: Page, text: string): Promise<void> {
  await page.locator(".quick-input-widget input.input").fill(text);
  await page.locator(".quick-input-list .monaco-list-row", { hasText: text }).first().waitFor({ timeout: 10_000 });
  await page.keyboard.press("Enter");
}
