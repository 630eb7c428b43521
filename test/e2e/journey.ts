// The user journey in a real VS Code (code-server) with the packaged extension installed from its .vsix:
// Start Training (tiny preset) -> tier map fills, all three tiers -> change the Hot cutoff, Apply -> ack and the
// Hot count moves -> Stop Training -> done, events.jsonl complete -> Open Run replays the final tiers -> the Runs
// view compares it with a recorded run and exports a Markdown report (compareJourney.ts).
// Every check is made where a user would look (the panel), and cross-checked against the trainer's own record.
//   node dist-test/e2e/journey.js   (environment: see e2eEnv.ts; run.sh sets it)
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { installVsix, startCodeServer, type CodeServer } from "./codeServer";
import { compareAndExport } from "./compareJourney";
import { readE2eEnv, makeWorkspace } from "./e2eEnv";
import { panelCells, raiseHotCutoff, waitForAck, waitForAllTiers, waitForHotRise } from "./panel";
import { readRun, runIds, type RunRecord } from "./runFolder";
import { assert, StepRunner, waitUntil } from "./steps";
import { describeWorkbench, launchBrowser, logPageErrors, newWorkbenchPage, openWorkbench, quickPickItems, runCommand, sideBarWebview, widenSideBar } from "./workbench";

const TRAINER_START_MS = 240_000; // Python + torch import + model build on a busy 2-core machine

async function main(): Promise<number> {
  const env = readE2eEnv();
  const steps = new StepRunner("journey", env.resultsDir);
  const ws = makeWorkspace(env, "journey-ws");
  const runsDir = join(ws, ".hima", "runs");
  const stateDir = join(env.workDir, "journey-state");
  const extensionsDir = join(stateDir, "extensions");
  let server: CodeServer | undefined;
  const browser = await launchBrowser();
  const shots: Record<string, string> = {};
  const shot = async (name: string) => {
    const file = await steps.screenshot(name);
    if (file) shots[name] = file;
  };

  try {
    await steps.step("install the packaged extension (.vsix) into code-server", async () => {
      installVsix(env.codeServerEntry, extensionsDir, env.vsix, join(stateDir, "install-user-data"));
      assert(existsSync(join(extensionsDir, "extensions.json")), "no extensions.json after --install-extension");
    });
    await steps.step("start code-server with a fresh workspace", async () => {
      server = await startCodeServer({
        entry: env.codeServerEntry,
        stateDir,
        extensionsDir,
        pidFile: env.pidFile,
        userSettings: {
          "hima.pythonPath": env.python,
          "hima.dataFolder": join(ws, "data", "tokens"),
          "hima.defaultPreset": "tiny",
          "hima.maxSteps": 5000,
          "hima.device": "cpu",
        },
      });
    });
    const page: Page = await newWorkbenchPage(browser);
    steps.page = page;
    steps.diagnose = () => describeWorkbench(page);
    logPageErrors(page);

    await steps.step("open the workspace in the VS Code workbench", () => openWorkbench(page, server!.folderUrl(ws)));

    await steps.step("F1 HiMA: Start Training offers the tiny preset first; Enter accepts it", async () => {
      await runCommand(page, "HiMA: Start Training");
      const items = await quickPickItems(page);
      assert(items.some((i) => /tiny/.test(i)), `the preset pick does not list tiny: ${items.join(" | ")}`);
      const active = await page.locator(".quick-input-list .monaco-list-row.focused").innerText({ timeout: 5000 });
      assert(/tiny/.test(active), `the preselected item is not the tiny preset but: ${active}`);
      await shot("e2e-01-start");
      await page.keyboard.press("Enter");
    });

    const run = await steps.step("the trainer starts: .hima/runs/<id>/events.jsonl begins with hello", () =>
      waitUntil("a run folder whose events.jsonl has a hello event", () => {
        const ids = runIds(runsDir);
        if (ids.length > 1) throw new Error(`expected one run, found ${ids.join(", ")}`);
        const r = ids.length ? readRun(runsDir, ids[0]) : undefined;
        return r?.hello ? r : undefined;
      }, TRAINER_START_MS),
    );
    const runId = run?.id ?? "";
    const nTensors = run?.hello?.tensors.length ?? 0;
    const panel = sideBarWebview(page);

    await steps.step("the HiMA side panel shows the tier map with one cell per tensor", async () => {
      let seen = "nothing yet";
      const t = await waitUntil(`${nTensors} tier-map cells, each with a tier`, async () => {
        const t = { cells: await panelCells(panel) };
        seen = `${t.cells.length} cells, ${t.cells.filter((c) => c.tier).length} with a tier`;
        return t.cells.length === nTensors && t.cells.every((c) => c.tier) ? t : undefined;
      }, 60_000).catch((err: Error) => {
        throw new Error(`${err.message}; the panel shows ${seen} (the trainer announced ${nTensors} tensors)`);
      });
      await widenSideBar(page, 720).catch((err) => console.log(`  (could not widen the side bar: ${err.message})`));
      const names = new Set(run!.hello!.tensors.map((x) => x.name));
      const unknown = t.cells.filter((c) => !names.has(c.name));
      assert(unknown.length === 0, `cells for tensors the trainer never announced: ${unknown.map((c) => c.name).join(", ")}`);
    });

    await steps.step("all three tiers (hot, warm, cold) appear on the tier map during the run", async () => {
      await waitForAllTiers(panel, runsDir, runId, 180_000);
      await shot("e2e-02-tier-map-live");
    });

    let hotBefore = 0;
    let newHot = 0;
    await steps.step("set the Hot cutoff to a new value and press Apply", async () => {
      ({ hotBefore, newHot } = await raiseHotCutoff(panel));
    });

    await steps.step("the panel shows the trainer's ack for set_cutoffs", () => waitForAck(panel, 60_000));

    await steps.step("the Hot count on the panel rises, matching the trainer's re-tier", async () => {
      await waitForHotRise(panel, runsDir, runId, hotBefore, newHot, 60_000);
      await shot("e2e-03-after-cutoff-change");
    });

    let finalRun: RunRecord | undefined;
    await steps.step("F1 HiMA: Stop Training ends the run with done", async () => {
      await runCommand(page, "HiMA: Stop Training");
      finalRun = await waitUntil("a done event in events.jsonl", () => {
        const r = readRun(runsDir, runId);
        return r.done ? r : undefined;
      }, 90_000);
      await panel.locator('.run-title[data-status="done"]').waitFor({ state: "visible", timeout: 30_000 });
      // The trainer says done, then checkpoints and exits; the panel reports the exit once the process is gone.
      const details = panel.locator('[data-testid="run-details"]');
      await waitUntil('"exit code 0" in the panel\'s run details', async () => ((await details.innerText()).includes("exit code 0") ? true : undefined), 60_000);
    });

    await steps.step("events.jsonl is complete: hello first, done last, every line JSON", async () => {
      const r = readRun(runsDir, runId);
      assert(r.badLines === 0, `${r.badLines} line(s) of events.jsonl are not JSON`);
      assert(r.events[0]?.type === "hello", `first event is ${r.events[0]?.type}, not hello`);
      assert(r.events.at(-1)?.type === "done", `last event is ${r.events.at(-1)?.type}, not done`);
      assert(r.done?.reason === "stopped", `done.reason is ${r.done?.reason}, expected stopped`);
      finalRun = r;
    });

    await steps.step("F1 HiMA: Open Run replays the run and the panel shows its final tiers", async () => {
      await runCommand(page, "HiMA: Open Run");
      const items = await quickPickItems(page);
      assert(items.some((i) => i.includes(runId)), `Open Run does not list ${runId}: ${items.join(" | ")}`);
      await page.locator(".quick-input-widget input.input").fill(runId);
      await page.locator(".quick-input-list .monaco-list-row", { hasText: runId }).first().waitFor({ timeout: 10_000 });
      await page.keyboard.press("Enter");
      await panel.locator('.run-title[data-status="replay"]').waitFor({ state: "visible", timeout: 30_000 });
      const last = finalRun!.tiers.at(-1)!;
      const expected = new Map(last.tensors.map((t) => [t.name, t.tier]));
      await waitUntil("replayed cells equal to the last tiers event", async () => {
        const t = { cells: await panelCells(panel) };
        const wrong = t.cells.filter((c) => expected.get(c.name) !== c.tier);
        if (t.cells.length !== expected.size || wrong.length) throw new Error(`${wrong.length} of ${t.cells.length} cells differ from the final tiers`);
        return true;
      }, 30_000);
      await shot("e2e-04-replay");
    });

    await compareAndExport(steps, page, { repo: env.repo, ws, runsDir, runId, shot });
  } finally {
    await browser.close().catch(() => {});
    await server?.stop();
  }

  // The README shows the live tier map; keep the latest screenshots where docs can reference them.
  if (env.docsImagesDir && !steps.hasFailed) {
    mkdirSync(env.docsImagesDir, { recursive: true });
    for (const [name, file] of Object.entries(shots)) copyFileSync(file, join(env.docsImagesDir, `${name}.png`));
  }
  return steps.finish().failed;
}

main().then(
  (failed) => process.exit(failed > 0 ? 1 : 0),
  (err) => {
    console.error(`journey crashed: ${err instanceof Error ? err.stack : err}`);
    process.exit(2);
  },
);
