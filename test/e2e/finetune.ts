// The fine-tuning story (issue 17): a tiny base trained on CPU sits in the runs folder as a recorded run;
// HiMA: Start Training from Checkpoint… offers it, and the new run starts from its weights: its hello names the
// base (run id, step) and the panel follows it live like any run; Stop ends it with done.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { openStoryPage, RUN_CONFIG_FILE, storyWorkspace, TRAINER_START_MS, type StoryContext } from "./story";
import { readRun, runIds } from "./runFolder";
import { assert, type StepRunner, waitUntil } from "./steps";
import { stopAndExpectDone } from "./survive";
import { quickPickItems, runCommand } from "./workbench";
import { pickQuickItem } from "./panel";

const BASE_ID = "tiny-base";
const BASE_STEPS = 6;

export async function finetuneStory(ctx: StoryContext, steps: StepRunner): Promise<void> {
  const ws = storyWorkspace(ctx);
  await steps.step(`make a tiny base on CPU: python -m hima train, full AdamW, ${BASE_STEPS} steps -> .hima/runs/${BASE_ID}`, async () => {
    const out = join(ws.runsDir, BASE_ID);
    const r = spawnSync(ctx.env.python, [
      "-m", "hima", "train", "--preset", "tiny", "--config", join(ws.dir, RUN_CONFIG_FILE), "--data", join(ws.dir, "data", "tokens"),
      "--out", out, "--max-steps", String(BASE_STEPS), "--method", "full", "--device", "cpu", "--quiet-stdout",
    ], { cwd: ws.dir, encoding: "utf8", timeout: TRAINER_START_MS, stdio: ["ignore", "pipe", "pipe"] });
    assert(r.status === 0, `the base run failed (exit ${r.status}): ${r.stderr.slice(-800)}`);
    assert(existsSync(join(out, "checkpoints", "latest")), "the base run wrote no checkpoint");
  });
  const page = await openStoryPage(ctx, steps, ws);
  await steps.step(`F1 HiMA: Start Training from Checkpoint… offers ${BASE_ID}; pick it, then ${RUN_CONFIG_FILE}`, async () => {
    await runCommand(page, "HiMA: Start Training from Checkpoint…");
    const bases = await quickPickItems(page);
    assert(bases.some((i) => i.includes(BASE_ID)), `the base pick does not list ${BASE_ID}: ${bases.join(" | ")}`);
    await pickQuickItem(page, BASE_ID);
    await waitUntil(`the launch pick listing ${RUN_CONFIG_FILE}`, async () => ((await quickPickItems(page)).some((i) => i.includes(RUN_CONFIG_FILE)) ? true : undefined), 30_000);
    await pickQuickItem(page, RUN_CONFIG_FILE);
  });
  const run = await steps.step("the new run starts from the base: its hello names the base run and step", async () => {
    const r = await waitUntil("a second run folder whose events.jsonl has a hello event", () => {
      const ids = runIds(ws.runsDir).filter((id) => id !== BASE_ID);
      const rec = ids.length === 1 ? readRun(ws.runsDir, ids[0]) : undefined;
      return rec?.hello ? rec : undefined;
    }, TRAINER_START_MS);
    const base = r.hello?.base;
    assert(base?.run_id === BASE_ID && base.step === BASE_STEPS && base.kind === "hima-checkpoint",
      `hello.base is ${JSON.stringify(base)}, expected run ${BASE_ID} at step ${BASE_STEPS}`);
    assert(r.hello?.start_step === 0, `a fine-tuning run starts at step 0 (fresh schedule), got ${r.hello?.start_step}`);
    return r;
  });
  if (!run) return;
  await steps.step("it trains: step events follow", () =>
    waitUntil("a step event", () => (readRun(ws.runsDir, run.id).events.some((e) => e.type === "step") ? true : undefined), 120_000));
  await stopAndExpectDone(steps, page, ws, run.id, 1);
}
