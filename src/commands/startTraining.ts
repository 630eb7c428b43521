// HiMA: Start Training — pick what and on which data, find Python, launch the trainer (detached) into a new
// run folder, and show progress until its hello (cancellable, with a timeout that kills a trainer that never starts).
import * as path from "node:path";
import * as vscode from "vscode";
import { DetachedRun } from "../run/DetachedRun";
import { newRunId, runDirFor, writeRunConfig } from "../run/RunStore";
import { launchArgs, trainerArgs } from "../run/trainerCommand";
import { ensurePython } from "./ensurePython";
import { pickBase } from "./pickBase";
import { showLiveRun, waitForHello } from "./liveRunView";
import { pickDataset, pickLaunch, PREPARE_BROWN } from "./pickLaunch";
import { brownSource, datasetOutDir, prepareWithProgress, TINY_VOCAB_SIZE } from "./prepareDataset";
import type { HimaServices } from "./services";
import { readSettings, workspaceForPython } from "./settings";

/** `askForBase`: HiMA: Start Training from Checkpoint… — first pick the weights to fine-tune from (pickBase). */
export async function startTraining(services: HimaServices, options: { askForBase?: boolean } = {}): Promise<void> {
  const wsDir = await workspaceForPython("starting the trainer");
  if (!wsDir) return;
  const current = services.liveRun();
  if (current && !current.isEnded) {
    const choice = await vscode.window.showWarningMessage(`HiMA run ${current.runId} is still training. Stop it and start a new run?`, { modal: true }, "Stop and Start New");
    if (choice !== "Stop and Start New") return;
    await current.stop();
  }

  const settings = readSettings();
  const initFrom = options.askForBase ? await pickBase(settings) : undefined;
  if (options.askForBase && !initFrom) return;
  const launch = await pickLaunch(settings, wsDir);
  if (!launch) return;
  let dataDir = await pickDataset(settings);
  if (dataDir === PREPARE_BROWN) {
    // A config file names its own model; only the tiny preset is known to want the reduced vocabulary.
    const vocabSize = launch.preset === "tiny" ? TINY_VOCAB_SIZE : undefined;
    dataDir = await prepareWithProgress(services, brownSource(services.extensionContext.extensionPath), settings.dataFolder ?? datasetOutDir(wsDir, { kind: "brown" }, vocabSize), vocabSize);
  }
  if (!dataDir) return;
  const python = await ensurePython(wsDir, services.extensionContext.extensionPath, services.log);
  if (!python) return;

  const runId = newRunId();
  const runDir = runDirFor(settings.runsFolder, runId);
  // hima.processes > 1: the same trainer under torch.distributed.run, one process per GPU.
  const processes = settings.processes;
  const args = launchArgs(trainerArgs({
    preset: launch.preset,
    configFile: launch.configFile,
    dataDir,
    outDir: runDir,
    runId,
    maxSteps: settings.maxSteps,
    method: settings.method,
    hot: settings.cutoffs?.hot,
    warm: settings.cutoffs?.warm,
    device: settings.device,
    strategy: settings.strategy,
    initFrom,
  }), processes);
  await writeRunConfig(runDir, {
    runId,
    createdAt: new Date().toISOString(),
    command: python,
    args,
    cwd: wsDir,
    preset: launch.preset ?? null,
    configFile: launch.configFile ?? null,
    method: settings.method ?? null,
    dataDir,
    maxSteps: settings.maxSteps ?? null,
    processes,
    initFrom: initFrom ?? null,
    launchedBy: "vscode",
  });
  services.log.info(`Starting run ${runId}: ${python} ${args.join(" ")}`);
  // Detached: the run outlives this window (a reload re-attaches to it through its run folder).
  const trainer = DetachedRun.launch({ command: python, args, cwd: wsDir, env: process.env, runId, runDir });
  const run = showLiveRun(services, trainer, settings.chartMaxPoints);
  void services.panel.reveal();
  await waitForHello(run, settings.startTimeoutMs, path.relative(wsDir, runDir));
}
