// Runs that survive, hostile input (issue 7) and a real multi-GPU run, in a real VS Code with the packaged
// extension installed from its .vsix: six stories on one code-server, each in its own workspace and browser page,
// each its own suite (a failure skips the rest of that story only):
//   reload   — survive.ts: a window reload re-attaches the panel to the live trainer; controls and Stop work after it
//   sigkill  — survive.ts: a SIGKILLed trainer is resumed with HiMA: Resume Run from its checkpoint
//   hostile  — hostile.ts: tensor names and error text that are HTML render as text and run nothing
//   four-gpu — gpuReplay.ts: a recorded 4-GPU torchrun run, opened with HiMA: Open Run, shows its per-rank line
//   finetune — finetune.ts: HiMA: Start Training from Checkpoint… starts a run from a tiny base made on CPU
//   own-script — ownScript.ts: a user's own script (RunMonitor) started from a terminal, followed live, cutoffs acked
// Trainers outlive code-server by design, so whatever a story leaves running is killed before the next one.
//   node dist-test/e2e/robustness.js   (environment: see e2eEnv.ts; run.sh sets it)
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { installVsix, startCodeServer, type CodeServer } from "./codeServer";
import { readE2eEnv } from "./e2eEnv";
import { finetuneStory } from "./finetune";
import { fourGpuReplayStory } from "./gpuReplay";
import { hostileStory } from "./hostile";
import { ownScriptStory } from "./ownScript";
import { killLeftoverTrainers } from "./runFolder";
import { StepRunner } from "./steps";
import type { StoryContext } from "./story";
import { reloadStory, sigkillStory } from "./survive";
import { launchBrowser } from "./workbench";

const STORIES: Array<[suite: string, workspace: string, story: (ctx: StoryContext, steps: StepRunner) => Promise<void>]> = [
  ["reload", "reload-ws", reloadStory],
  ["sigkill", "sigkill-ws", sigkillStory],
  ["hostile", "hostile-ws", hostileStory],
  ["four-gpu", "four-gpu-ws", fourGpuReplayStory],
  ["finetune", "finetune-ws", finetuneStory],
  ["own-script", "own-script-ws", ownScriptStory],
];

async function main(): Promise<number> {
  const env = readE2eEnv();
  const only = process.env.HIMA_E2E_STORIES?.split(",").filter(Boolean);
  const stateDir = join(env.workDir, "robustness-state");
  const extensionsDir = join(stateDir, "extensions");
  const browser = await launchBrowser();
  let server: CodeServer | undefined;
  let failed = 0;
  const shots: Record<string, string> = {};
  try {
    const setup = new StepRunner("robustness-setup", env.resultsDir);
    await setup.step("install the packaged extension (.vsix) and start code-server", async () => {
      installVsix(env.codeServerEntry, extensionsDir, env.vsix, join(stateDir, "install-user-data"));
      server = await startCodeServer({
        entry: env.codeServerEntry,
        stateDir,
        extensionsDir,
        pidFile: env.pidFile,
        userSettings: {
          "hima.pythonPath": env.python,
          "hima.dataFolder": "data/tokens",
          "hima.maxSteps": 5000,
          "hima.device": "cpu",
          "hima.startTimeoutSeconds": 240,
        },
      });
    });
    failed += setup.finish().failed;
    for (const [suite, workspace, story] of STORIES) {
      const steps = new StepRunner(suite, env.resultsDir);
      if (!server || (only && !only.includes(suite))) {
        steps.finish(); // run.sh counts every suite: one not asked for reports no steps
        continue;
      }
      console.log(`--- story: ${suite}`);
      const ctx: StoryContext = { env, browser, server, workspace, shots: {} };
      try {
        await story(ctx, steps);
      } catch (err) {
        // A story's steps catch their own failures; this is the driver code itself failing.
        await steps.step("the story ran to its end", async () => {
          throw err;
        }, { independent: true });
      } finally {
        const killed = killLeftoverTrainers(join(env.workDir, workspace, ".hima", "runs"));
        if (killed.length) console.log(`  (killed the trainer of ${killed.join(", ")}, left running by the story)`);
        await steps.page?.context().close().catch(() => {});
      }
      if (!steps.hasFailed) Object.assign(shots, ctx.shots);
      failed += steps.finish().failed;
    }
  } finally {
    await browser.close().catch(() => {});
    await server?.stop();
  }
  if (env.docsImagesDir) {
    mkdirSync(env.docsImagesDir, { recursive: true });
    for (const [name, file] of Object.entries(shots)) if (existsSync(file)) copyFileSync(file, join(env.docsImagesDir, `${name}.png`));
  }
  return failed;
}

main().then(
  (failed) => process.exit(failed > 0 ? 1 : 0),
  (err) => {
    console.error(`robustness stories crashed: ${err instanceof Error ? err.stack : err}`);
    process.exit(2);
  },
);
