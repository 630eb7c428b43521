// Runs that survive (issue 7), in the real VS Code:
//   reload:  Start Training -> panel live -> Developer: Reload Window -> the panel re-attaches to the same
//            trainer (tier map, steps advancing) -> Apply a new Hot cutoff -> ack -> Stop Training -> done.
//   sigkill: Start Training (a checkpoint every 10 steps) -> checkpoint -> SIGKILL the trainer -> the panel
//            shows it crashed -> HiMA: Resume Run -> the run continues from the checkpoint in the same folder
//            (second hello with start_step > 0; the panel's step passes where the killed trainer got) -> Stop.
import type { Page } from "playwright-core";
import { panelRun, raiseHotCutoff, waitForAck, waitForAllTiers, waitForFilledTierMap, waitForHotRise, waitForStatus, waitForStepPast, pickQuickItem } from "./panel";
import { isTrainerOf, readRun, trainerPid, type RunRecord } from "./runFolder";
import { keepShot, openStoryPage, startStoryRun, storyWorkspace, TRAINER_START_MS, type StoryContext, type StoryWorkspace } from "./story";
import { assert, type StepRunner, waitUntil } from "./steps";
import { openWorkbench, quickPickItems, runCommand, sideBarWebview, waitForNotification } from "./workbench";

/** Stop Training from the Command Palette; the log's last segment must end with done (stopped). */
export async function stopAndExpectDone(steps: StepRunner, page: Page, ws: StoryWorkspace, runId: string, helloCount: number): Promise<void> {
  const panel = sideBarWebview(page);
  await steps.step("F1 HiMA: Stop Training ends the run with done (stopped)", async () => {
    await runCommand(page, "HiMA: Stop Training");
    const r = await waitUntil("a done event after the last hello in events.jsonl", () => {
      const r = readRun(ws.runsDir, runId);
      return r.events.filter((e) => e.type === "hello").length === helloCount && r.events.at(-1)?.type === "done" ? r : undefined;
    }, 90_000);
    assert(r.events.at(-1)?.reason === "stopped", `the last done says reason ${String(r.events.at(-1)?.reason)}, expected stopped`);
    await waitForStatus(panel, "done", 30_000);
  });
  await steps.step("the trainer process is gone after the stop", async () => {
    const dir = readRun(ws.runsDir, runId).dir;
    const pid = trainerPid(dir);
    assert(pid !== undefined, "trainer.json names no pid");
    await waitUntil(`trainer pid ${pid} to exit`, () => (isTrainerOf(pid, dir) ? undefined : true), 30_000);
  });
}

export async function reloadStory(ctx: StoryContext, steps: StepRunner): Promise<void> {
  const ws = storyWorkspace(ctx);
  const page = await openStoryPage(ctx, steps, ws);
  const panel = sideBarWebview(page);
  const run = await startStoryRun(steps, page, ws);
  const runId = run?.id ?? "";
  const nTensors = run?.hello?.tensors.length ?? 0;
  let pidBefore: number | undefined;
  let stepBefore = 0;

  await steps.step("the panel is live: tier map filled, steps advancing", async () => {
    await waitForFilledTierMap(panel, nTensors, 60_000);
    stepBefore = await waitForStepPast(panel, 0, 60_000);
    pidBefore = trainerPid(run!.dir);
    assert(pidBefore !== undefined && isTrainerOf(pidBefore, run!.dir), "trainer.json names no live trainer");
  });

  await steps.step("F1 Developer: Reload Window reloads the workbench", async () => {
    const reloaded = page.waitForEvent("load", { timeout: 60_000 });
    await runCommand(page, "Developer: Reload Window");
    await reloaded;
    await openWorkbench(page, page.url());
  });

  await steps.step("after the reload a notification says the run is still training and the panel follows it", async () => {
    await waitForNotification(page, new RegExp(`${runId}.*still training`), 60_000);
  });

  await steps.step("the panel re-attaches: the same trainer, tier map filled, steps advancing past the reload", async () => {
    await waitForStatus(panel, "running", 60_000);
    const title = (await panelRun(panel)).title;
    assert(title.includes(runId), `the panel shows "${title}", not run ${runId}`);
    await waitForFilledTierMap(panel, nTensors, 30_000);
    const after = await waitForStepPast(panel, stepBefore, 60_000);
    await waitForStepPast(panel, after, 60_000); // still following: the step moves again
    const r = readRun(ws.runsDir, runId);
    assert(trainerPid(r.dir) === pidBefore, `trainer.json names pid ${trainerPid(r.dir)}, not the trainer from before the reload (${pidBefore})`);
    assert(r.events.filter((e) => e.type === "hello").length === 1, "the log holds a second hello: the trainer was restarted, not re-attached");
    await keepShot(ctx, steps, "e2e-06-reattached-after-reload");
  });

  let hot = { hotBefore: 0, newHot: 0 };
  await steps.step("set a new Hot cutoff and press Apply (after the reload, once the first re-tier is on the panel)", async () => {
    await waitForAllTiers(panel, ws.runsDir, runId, 180_000);
    hot = await raiseHotCutoff(panel);
  });
  await steps.step("the panel shows the trainer's ack, sent through the run's control socket", () => waitForAck(panel, 60_000));
  await steps.step("the Hot count on the panel rises, matching the trainer's re-tier", () => waitForHotRise(panel, ws.runsDir, runId, hot.hotBefore, hot.newHot, 60_000));
  await stopAndExpectDone(steps, page, ws, runId, 1);
  await page.context().close();
}

export async function sigkillStory(ctx: StoryContext, steps: StepRunner): Promise<void> {
  const ws = storyWorkspace(ctx);
  const page = await openStoryPage(ctx, steps, ws);
  const panel = sideBarWebview(page);
  const run = await startStoryRun(steps, page, ws);
  const runId = run?.id ?? "";
  const nTensors = run?.hello?.tensors.length ?? 0;
  let beforeKill: RunRecord | undefined;

  await steps.step("the trainer writes a checkpoint (checkpoint event in events.jsonl)", async () => {
    await waitForFilledTierMap(panel, nTensors, 60_000);
    await waitUntil("a checkpoint event", () => (readRun(ws.runsDir, runId).events.some((e) => e.type === "checkpoint") ? true : undefined), 120_000);
  });

  await steps.step("SIGKILL the trainer (pid from trainer.json)", async () => {
    const pid = trainerPid(run!.dir);
    assert(pid !== undefined && isTrainerOf(pid, run!.dir), "trainer.json names no live trainer");
    process.kill(pid, "SIGKILL");
    await waitUntil(`pid ${pid} to die`, () => (isTrainerOf(pid, run!.dir) ? undefined : true), 10_000);
    beforeKill = readRun(ws.runsDir, runId);
  });

  await steps.step("the panel shows the run crashed", async () => {
    await waitForStatus(panel, "crashed", 30_000);
    await keepShot(ctx, steps, "e2e-07-killed");
  });

  await steps.step("F1 HiMA: Resume Run lists the killed run; picking it starts the trainer again", async () => {
    await runCommand(page, "HiMA: Resume Run");
    const items = await quickPickItems(page);
    assert(items.some((i) => i.includes(runId)), `Resume Run does not list ${runId}: ${items.join(" | ")}`);
    await pickQuickItem(page, runId);
  });

  let startStep = 0;
  await steps.step("events.jsonl gets a second hello that starts from the checkpoint (start_step > 0)", async () => {
    const lastCheckpoint = Math.max(...beforeKill!.events.filter((e) => e.type === "checkpoint").map((e) => Number(e.step)));
    const hello = await waitUntil("a second hello", () => readRun(ws.runsDir, runId).events.filter((e) => e.type === "hello")[1], TRAINER_START_MS);
    startStep = Number(hello.start_step);
    // The kill may land after a checkpoint file was renamed into place but before its event was written.
    assert(startStep >= lastCheckpoint && startStep > 0, `the resumed trainer starts at step ${startStep}; the last checkpoint logged before the kill was step ${lastCheckpoint}`);
    const r = readRun(ws.runsDir, runId);
    // A SIGKILL may tear the line being written; the resumed trainer starts on a fresh line, so at most that one.
    assert(r.badLines <= 1, `${r.badLines} lines of events.jsonl are not JSON (a kill tears at most one)`);
  });

  await steps.step("the panel follows the resumed run: running, tier map filled, step past where the killed trainer got", async () => {
    const killedAt = Math.max(0, ...beforeKill!.events.filter((e) => e.type === "step").map((e) => Number(e.step)));
    await waitForStatus(panel, "running", 60_000);
    await waitForFilledTierMap(panel, nTensors, 30_000);
    await waitForStepPast(panel, Math.max(killedAt, startStep), 90_000);
    const events = readRun(ws.runsDir, runId).events;
    const secondHello = events.findIndex((e, i) => e.type === "hello" && i > 0);
    const firstResumed = events.slice(secondHello).find((e) => e.type === "step");
    assert(Number(firstResumed?.step) === startStep + 1, `the resumed trainer's first step event is step ${String(firstResumed?.step)}, not ${startStep + 1} (the step after the checkpoint)`);
    await keepShot(ctx, steps, "e2e-08-resumed");
  });

  await stopAndExpectDone(steps, page, ws, runId, 2);
  await page.context().close();
}
