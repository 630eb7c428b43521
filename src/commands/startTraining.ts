// HiMA: Start Training — pick what and on which data, find Python, have the trainer check the configuration,
// launch it (detached) into a new run folder, and show progress until its hello (cancellable, with a timeout
// that kills a trainer that never starts).
import * as path from "node:path";
import * as vscode from "vscode";
import { DetachedRun } from "../run/DetachedRun";
import { newRunId, runDirFor, writeRunConfig } from "../run/RunStore";
import { checkTrainerConfig } from "../run/configCheck";
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
  const trainerFlags = trainerArgs({
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
  });
  const args = launchArgs(trainerFlags, processes);
  // The trainer's own checks (config file, preset, cutoffs, data, HiMA settings) before the run folder exists:
  // a refusal is a message, not a crashed run in the Runs view.
  const check = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: "HiMA: checking the configuration…" },
    () => checkTrainerConfig({ command: python, args: trainerFlags, cwd: wsDir }),
  );
  if (check.kind === "refused") {
    services.log.warn(`Start Training: the trainer refused the configuration: ${check.problem}`);
    void vscode.window.showErrorMessage(`HiMA: ${check.problem} (no run was started)`);
    return;
  }
  if (check.kind === "inconclusive") services.log.warn(`Start Training: ${check.detail}; starting the trainer anyway`);
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
