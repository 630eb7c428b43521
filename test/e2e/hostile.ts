// Hostile input from the trainer renders as text (issue 7), in the real VS Code: a model whose layers are named
// like `<img src=x onerror=...>` (fixtures/hostile_trainer.py: the real hima CLI and engine on a GPT with such
// layers) shows those names in the panel's cell list and hover card, and an error whose message is HTML shows in
// the crash report; no script runs and no element is made from them.
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { FrameLocator, Page } from "playwright-core";
import { panelCells, waitForFilledTierMap, waitForStatus } from "./panel";
import { readRun } from "./runFolder";
import { keepShot, openStoryPage, startStoryRun, storyWorkspace, type StoryContext } from "./story";
import { assert, type StepRunner, waitUntil } from "./steps";
import { notifications, sideBarWebview } from "./workbench";

// Must match fixtures/hostile_trainer.py.
const HOSTILE_LAYERS = ["<img src=x onerror=__pwned=1>", "<svg onload=__pwned=2>"];
const ERROR_TRIGGER = "e2e-raise-hostile-error";
const ERROR_MESSAGE = "<img src=x onerror=__pwned=3> failed on purpose <b>not bold</b>";

/** hima.pythonPath for the story: answers the extension's `python -c` checks like python; `-m hima` runs the fixture. */
function hostileInterpreter(workDir: string, python: string, fixture: string): string {
  const path = join(workDir, "hostile-python.sh");
  writeFileSync(
    path,
    `#!/bin/sh\n# e2e: the hima CLI on a model with HTML layer names (test/e2e/fixtures/hostile_trainer.py)\n` +
      `if [ "$1" = "-m" ] && [ "$2" = "hima" ]; then shift 2; exec "${python}" "${fixture}" "$@"; fi\n` +
      `exec "${python}" "$@"\n`,
  );
  chmodSync(path, 0o755);
  return path;
}

/** What would show that markup from the trainer became DOM or ran, in one frame. */
async function injectionTraces(frame: FrameLocator | Page): Promise<string[]> {
  return frame.locator("body").evaluate(() => {
    const found: string[] = [];
    const w = window as unknown as Record<string, unknown>;
    if (typeof w.__pwned !== "undefined") found.push(`window.__pwned = ${String(w.__pwned)} (a script ran)`);
    for (const el of Array.from(document.querySelectorAll("[onerror], [onload]"))) found.push(`an element was made from markup: ${el.outerHTML.slice(0, 80)}`);
    for (const el of Array.from(document.querySelectorAll("b"))) {
      if (el.textContent === "not bold") found.push(`an element was made from markup: ${el.outerHTML.slice(0, 80)}`);
    }
    for (const el of Array.from(document.querySelectorAll("img, svg"))) {
      if ((el.getAttribute("src") ?? "") === "x" || el.outerHTML.includes("__pwned")) found.push(`an element was made from markup: ${el.outerHTML.slice(0, 80)}`);
    }
    return found;
  });
}

async function assertNoInjection(page: Page, panel: FrameLocator): Promise<void> {
  const traces = [...(await injectionTraces(panel)).map((t) => `panel: ${t}`), ...(await injectionTraces(page)).map((t) => `workbench: ${t}`)];
  assert(traces.length === 0, traces.join("; "));
}

export async function hostileStory(ctx: StoryContext, steps: StepRunner): Promise<void> {
  const python = hostileInterpreter(ctx.env.workDir, ctx.env.python, join(ctx.env.repo, "test", "e2e", "fixtures", "hostile_trainer.py"));
  const ws = storyWorkspace(ctx, { "hima.pythonPath": python });
  const page = await openStoryPage(ctx, steps, ws);
  const panel = sideBarWebview(page);
  const run = await startStoryRun(steps, page, ws);
  const hostileTensors = (run?.hello?.tensors ?? []).map((t) => t.name).filter((n) => HOSTILE_LAYERS.some((l) => n.startsWith(l)));

  await steps.step("the trainer announces tensors named with HTML (the fixture model's layers)", async () => {
    assert(hostileTensors.length === 2 * HOSTILE_LAYERS.length, `hello lists ${hostileTensors.length} hostile tensors: ${hostileTensors.join(", ")}`);
  });

  await steps.step("the panel's cell list shows each hostile name as text", async () => {
    await waitForFilledTierMap(panel, run!.hello!.tensors.length, 60_000);
    const cells = await panelCells(panel);
    for (const name of hostileTensors) {
      assert(cells.some((c) => c.name === name), `no cell named ${name}`);
      const li = panel.locator('[data-testid="tier-cells"] li').filter({ hasText: name });
      assert((await li.count()) === 1, `the cell list has no item whose text contains ${name}`);
      assert((await li.innerText()).startsWith(name), `the item reads "${await li.innerText()}", not the name as text`);
    }
  });

  await steps.step("hovering a hostile tensor's cell shows its name, as text, in the hover card", async () => {
    const name = hostileTensors.find((n) => n.startsWith("<img"))!;
    const li = panel.locator('[data-testid="tier-cells"] li').filter({ hasText: name });
    const x = Number(await li.getAttribute("data-x"));
    const y = Number(await li.getAttribute("data-y"));
    await panel.locator(".tier-canvas-wrap canvas").hover({ position: { x, y } });
    const title = panel.locator(".tensor-card .card-title");
    await title.waitFor({ state: "visible", timeout: 10_000 });
    assert((await title.innerText()) === name, `the hover card's title reads "${await title.innerText()}", expected ${name}`);
    await keepShot(ctx, steps, "e2e-09-hostile-names");
  });

  await steps.step("no script ran and no element was made from the names (webview and workbench)", () => assertNoInjection(page, panel));

  await steps.step("an error event whose message is HTML shows in the panel's crash report as text", async () => {
    writeFileSync(join(ws.dir, ERROR_TRIGGER), "");
    await waitUntil("an error event in events.jsonl", () => (readRun(ws.runsDir, run!.id).events.some((e) => e.type === "error") ? true : undefined), 60_000);
    await waitForStatus(panel, "crashed", 60_000);
    const report = await panel.locator("pre.error-tail").innerText({ timeout: 10_000 });
    assert(report.includes(ERROR_MESSAGE), `the crash report does not show the message as text: ${report.slice(-300)}`);
    // The notification that reports the failure carries the message too, as plain text.
    const shown = await notifications(page);
    assert(shown.some((t) => t.includes(ERROR_MESSAGE)), `no notification shows the error message as text (shown: ${shown.join(" | ") || "none"})`);
    await keepShot(ctx, steps, "e2e-10-hostile-error");
  });

  await steps.step("still no script ran and no element was made from the error text", () => assertNoInjection(page, panel));
  await page.context().close();
}
