// What the robustness stories share: a workspace of their own with a run config file, a fresh browser page on
// the one code-server, Start Training through the Command Palette, and the wait for the trainer's hello.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import type { CodeServer } from "./codeServer";
import { makeWorkspace, type E2eEnv } from "./e2eEnv";
import { readRun, runIds, type RunRecord } from "./runFolder";
import { type StepRunner, waitUntil } from "./steps";
import { describeWorkbench, logPageErrors, newWorkbenchPage, openWorkbench, quickPickItems, runCommand, widenSideBar } from "./workbench";
import { pickQuickItem } from "./panel";

export const TRAINER_START_MS = 240_000; // Python + torch import + model build on a busy 2-core machine

/**
 * The run config every story trains with: the tiny preset, one torch thread (on 2 cores shared with
 * code-server and Chromium it steps faster than two), a checkpoint every 10 steps (the SIGKILL story needs one
 * within seconds), no periodic evaluation (not under test here).
 */
export const RUN_CONFIG_FILE = "e2e-tiny.hima.json";
const RUN_CONFIG = { preset: "tiny", threads: 1, checkpoint_every: 10, eval_every: 0 };

export interface StoryContext {
  env: E2eEnv;
  browser: Browser;
  server: CodeServer;
  /** The story's workspace folder name under the scratch folder (fresh for each story). */
  workspace: string;
  /** Screenshots worth keeping for docs/images/ (name -> file), filled by the stories. */
  shots: Record<string, string>;
}

export interface StoryWorkspace {
  dir: string;
  runsDir: string;
}

/** A fresh workspace with the token fixture, the run config file and optional workspace settings. */
export function storyWorkspace(ctx: StoryContext, settings: Record<string, unknown> = {}): StoryWorkspace {
  const dir = makeWorkspace(ctx.env, ctx.workspace);
  writeFileSync(join(dir, RUN_CONFIG_FILE), JSON.stringify(RUN_CONFIG, null, 2));
  if (Object.keys(settings).length) {
    const vscodeDir = join(dir, ".vscode");
    mkdirSync(vscodeDir, { recursive: true });
    writeFileSync(join(vscodeDir, "settings.json"), JSON.stringify(settings, null, 2));
  }
  return { dir, runsDir: join(dir, ".hima", "runs") };
}

/** A new browser page on the workspace; failures of `steps` get its screenshot and what the panel said. */
export async function openStoryPage(ctx: StoryContext, steps: StepRunner, ws: StoryWorkspace): Promise<Page> {
  const page = await newWorkbenchPage(ctx.browser);
  steps.page = page;
  steps.diagnose = () => describeWorkbench(page);
  logPageErrors(page);
  await steps.step("open the workspace in the VS Code workbench", () => openWorkbench(page, ctx.server.folderUrl(ws.dir)));
  return page;
}

/** F1 HiMA: Start Training, pick the story's config file, and wait for the trainer's hello in the run folder. */
export async function startStoryRun(steps: StepRunner, page: Page, ws: StoryWorkspace): Promise<RunRecord | undefined> {
  await steps.step(`F1 HiMA: Start Training with ${RUN_CONFIG_FILE} (tiny preset)`, async () => {
    await runCommand(page, "HiMA: Start Training");
    const items = await quickPickItems(page);
    if (!items.some((i) => i.includes(RUN_CONFIG_FILE))) throw new Error(`the launch pick does not list ${RUN_CONFIG_FILE}: ${items.join(" | ")}`);
    await pickQuickItem(page, RUN_CONFIG_FILE);
  });
  return steps.step("the trainer starts: .hima/runs/<id>/events.jsonl begins with hello", () =>
    waitUntil("a run folder whose events.jsonl has a hello event", () => {
      const ids = runIds(ws.runsDir);
      if (ids.length > 1) throw new Error(`expected one run, found ${ids.join(", ")}`);
      const r = ids.length ? readRun(ws.runsDir, ids[0]) : undefined;
      return r?.hello ? r : undefined;
    }, TRAINER_START_MS).then(async (r) => {
      // Room for the tier map and its labels in the screenshots (the side bar keeps its width over a reload).
      await widenSideBar(page, 720).catch((err: Error) => console.log(`  (could not widen the side bar: ${err.message})`));
      return r;
    }),
  );
}

/** Keeps a screenshot for the docs (copied to docs/images/ with --update-docs when the story passed). */
export async function keepShot(ctx: StoryContext, steps: StepRunner, name: string): Promise<void> {
  const file = await steps.screenshot(name);
  if (file) ctx.shots[name] = file;
}
