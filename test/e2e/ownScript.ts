// A user's own training script in the real VS Code (issue 16): trainer/examples/own_loop.py (a plain PyTorch
// loop on a small CNN with HiMA and hima.monitor.RunMonitor) is started by the test as a child process, as a
// user starts it in a terminal, writing into experiments/ (a runs folder listed by the workspace setting
// hima.runsFolders, beside a missing one that is skipped with a warning):
//   F1 HiMA: Open Run lists it live -> the panel follows it (tier map, steps advancing) -> a Hot cutoff applied
//   from the panel is acked by the script (ack in its events.jsonl, acked in the panel's control history) and
//   its re-tier shows -> Stop Training ends the script's loop (done, stopped; the script exits 0).
// Then a second run into a folder no setting lists: F1 HiMA: Open Run Folder… (VS Code's folder dialog) ->
// the panel follows that run live too -> Stop ends it.
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { panelRun, raiseHotCutoff, waitForAck, waitForAllTiers, waitForFilledTierMap, waitForHotRise, waitForStatus, waitForStepPast, pickQuickItem } from "./panel";
import { readRun, type RunRecord } from "./runFolder";
import { keepShot, openStoryPage, storyWorkspace, TRAINER_START_MS, type StoryContext } from "./story";
import { assert, type StepRunner, waitUntil } from "./steps";
import { quickPickItems, runCommand, sideBarWebview, typeIntoFileDialog, waitForNotification, widenSideBar } from "./workbench";

const RUNS_FOLDER = "experiments";
const RUN_ID = "own-loop";
/** A folder that no setting lists: only HiMA: Open Run Folder… finds it. */
const LOOSE_FOLDER = join("scratch", "cnn-2");

interface Script {
  child: ChildProcess;
  exit: Promise<number | null>;
  output: () => string;
}

/** `python trainer/examples/own_loop.py --out <out> --steps 100000` in the workspace, as typed in a terminal. */
function startScript(ctx: StoryContext, cwd: string, out: string): Script {
  const child = spawn(ctx.env.python, [join(ctx.env.repo, "trainer", "examples", "own_loop.py"), "--out", out, "--steps", "100000"], {
    cwd,
    env: { ...process.env, OMP_NUM_THREADS: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, exit, output: () => output.slice(-1500) };
}

function waitForHello(script: Script, runsDir: string, id: string): Promise<RunRecord> {
  return waitUntil(`${id}/events.jsonl with a hello`, () => {
    if (script.child.exitCode !== null) throw new Error(`the script exited (${script.child.exitCode}): ${script.output()}`);
    const r = readRun(runsDir, id);
    return r.hello ? r : undefined;
  }, TRAINER_START_MS);
}

/** Stop Training from the Command Palette: the script's loop ends, its log ends with done (stopped), it exits 0. */
async function stopScript(steps: StepRunner, page: Page, script: Script, runsDir: string, id: string): Promise<void> {
  await steps.step(`F1 HiMA: Stop Training ends the script's loop: done (stopped) in ${id}/events.jsonl, the script exits 0`, async () => {
    await runCommand(page, "HiMA: Stop Training");
    const code = await Promise.race([script.exit, new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 90_000))]);
    assert(code === 0, `the script ${code === "timeout" ? "still runs 90 s after Stop" : `exited ${code}`}: ${script.output()}`);
    const last = readRun(runsDir, id).events.at(-1);
    assert(last?.type === "done" && last.reason === "stopped", `the log ends with ${JSON.stringify(last)?.slice(0, 200)}`);
    await waitForStatus(sideBarWebview(page), "done", 30_000);
  });
}

export async function ownScriptStory(ctx: StoryContext, steps: StepRunner): Promise<void> {
  // A second entry names a folder that does not exist: skipped with a warning, the good one still listed.
  const ws = storyWorkspace(ctx, { "hima.runsFolders": [RUNS_FOLDER, "no-such-folder"] });
  const runsDir = join(ws.dir, RUNS_FOLDER);
  const scripts: Script[] = [];
  try {
    const page = await openStoryPage(ctx, steps, ws);
    const panel = sideBarWebview(page);
    const script = startScript(ctx, ws.dir, join(RUNS_FOLDER, RUN_ID));
    scripts.push(script);
    const run = await steps.step(`start the user's script from a terminal: python own_loop.py --out ${RUNS_FOLDER}/${RUN_ID}; its hello appears`, () =>
      waitForHello(script, runsDir, RUN_ID));
    const nTensors = run?.hello?.tensors.length ?? 0;

    await steps.step(`F1 HiMA: Open Run lists ${RUN_ID} as live, from the runs folder ${RUNS_FOLDER} (hima.runsFolders; the missing second entry is skipped with a warning); pick it`, async () => {
      await runCommand(page, "HiMA: Open Run");
      const items = await quickPickItems(page);
      const item = items.find((i) => i.includes(RUN_ID));
      assert(item !== undefined, `Open Run does not list ${RUN_ID}: ${items.join(" | ") || "no items"}`);
      assert(/live/.test(item) && item.includes(RUNS_FOLDER), `Open Run lists it as "${item.replace(/\s+/g, " ")}", expected live, in ${RUNS_FOLDER}`);
      await pickQuickItem(page, RUN_ID);
      await waitForNotification(page, /runs folder is skipped: hima\.runsFolders\[1\]: .*no-such-folder does not exist/, 10_000);
    });

    await steps.step("the panel follows the script live: running, tier map filled, steps advancing", async () => {
      await waitForStatus(panel, "running", 60_000);
      await widenSideBar(page, 720).catch((err: Error) => console.log(`  (could not widen the side bar: ${err.message})`));
      const title = (await panelRun(panel)).title;
      assert(title.includes(RUN_ID), `the panel shows "${title}", not ${RUN_ID}`);
      await waitForFilledTierMap(panel, nTensors, 60_000);
      const step = await waitForStepPast(panel, 0, 60_000);
      await waitForStepPast(panel, step, 60_000);
    });

    let hot = { hotBefore: 0, newHot: 0 };
    await steps.step("set a new Hot cutoff in the panel and press Apply (once the script's first re-tier is on the panel)", async () => {
      await waitForAllTiers(panel, runsDir, RUN_ID, 120_000);
      hot = await raiseHotCutoff(panel);
    });
    await steps.step("the script acks it: an ack in its events.jsonl, shown acked in the panel's control history", async () => {
      const text = await waitForAck(panel, 60_000);
      const acks = readRun(runsDir, RUN_ID).events.filter((e) => e.type === "ack" && e.control === "set_cutoffs");
      assert(acks.length > 0, "the script's events.jsonl holds no ack of set_cutoffs");
      const stepShown = Number(/step\s+(\d+)/.exec(text)?.[1]);
      assert(acks.some((a) => a.effective_step === stepShown), `the panel says "${text}", the script acked at steps ${acks.map((a) => a.effective_step).join(", ")}`);
    });
    await steps.step("the Hot count on the panel rises, matching the script's re-tier with the new cutoff", async () => {
      await waitForHotRise(panel, runsDir, RUN_ID, hot.hotBefore, hot.newHot, 60_000);
      await keepShot(ctx, steps, "e2e-10-own-script");
    });
    await stopScript(steps, page, script, runsDir, RUN_ID);

    const loose = startScript(ctx, ws.dir, LOOSE_FOLDER);
    scripts.push(loose);
    const looseDir = join(ws.dir, LOOSE_FOLDER);
    await steps.step(`a second run into ${LOOSE_FOLDER}, a folder no setting lists: its hello appears`, () =>
      waitForHello(loose, join(ws.dir, "scratch"), "cnn-2"));
    await steps.step(`F1 HiMA: Open Run Folder…, type ${LOOSE_FOLDER} into VS Code's folder dialog: the panel follows that run live`, async () => {
      await runCommand(page, "HiMA: Open Run Folder…");
      await typeIntoFileDialog(page, looseDir);
      // The dialog's own button (its label is the command's openLabel): Enter on a folder's path browses into it.
      await page.locator(".quick-input-widget .monaco-button", { hasText: "Open Run" }).click();
      await waitUntil("the panel showing cnn-2", async () => ((await panelRun(panel)).title.includes("cnn-2") ? true : undefined), 30_000);
      await waitForStatus(panel, "running", 30_000);
      const step = await waitForStepPast(panel, 0, 60_000);
      await waitForStepPast(panel, step, 60_000);
    });
    await stopScript(steps, page, loose, join(ws.dir, "scratch"), "cnn-2");
  } finally {
    for (const s of scripts) if (s.child.exitCode === null) s.child.kill("SIGKILL");
  }
}
