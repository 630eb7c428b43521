// HiMA: Start Training — pick what and on which data, find Python, launch the trainer into a new run folder,
// and show progress until its hello (cancellable, with a timeout that kills a trainer that never starts).
import * as path from "node:path";
import * as vscode from "vscode";
import { LiveRun } from "../LiveRun";
import { RunManager } from "../run/RunManager";
import { newRunId, runDirFor, writeRunConfig } from "../run/RunStore";
import { trainerArgs } from "../run/trainerCommand";
import { ensurePython } from "./ensurePython";
import { pickDataset, pickLaunch, PREPARE_BROWN } from "./pickLaunch";
import { brownSource, datasetOutDir, prepareWithProgress, TINY_VOCAB_SIZE } from "./prepareDataset";
import type { HimaServices } from "./services";
import { readSettings, workspaceDir } from "./settings";

export async function startTraining(services: HimaServices): Promise<void> {
  if (!vscode.workspace.isTrusted) {
    const choice = await vscode.window.showErrorMessage("HiMA: starting the trainer runs Python in this workspace; trust the workspace first.", "Manage Workspace Trust");
    if (choice) await vscode.commands.executeCommand("workbench.trust.manage");
    return;
  }
  const wsDir = workspaceDir();
  if (!wsDir) {
    void vscode.window.showErrorMessage("HiMA: open a folder first; runs are stored in its .hima/runs.");
    return;
  }
  const current = services.liveRun();
  if (current && !current.isEnded) {
    const choice = await vscode.window.showWarningMessage(`HiMA run ${current.runId} is still training. Stop it and start a new run?`, { modal: true }, "Stop and Start New");
    if (choice !== "Stop and Start New") return;
    await current.stop();
  }

  const settings = readSettings();
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
  const args = trainerArgs({
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
  });
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
    launchedBy: "vscode",
  });
  services.log.info(`Starting run ${runId}: ${python} ${args.join(" ")}`);
  const manager = RunManager.start({ command: python, args, cwd: wsDir, env: { ...process.env, PYTHONUNBUFFERED: "1" }, runId, runDir });
  const run = new LiveRun(manager, services.panel, services.log, settings.chartMaxPoints, (ended) => {
    if (services.liveRun() === ended) void vscode.commands.executeCommand("setContext", "hima.runLive", false);
  });
  services.liveRun()?.dispose();
  services.setLiveRun(run);
  void vscode.commands.executeCommand("setContext", "hima.runLive", true);
  services.panel.show(run.model);
  void services.panel.reveal();
  await waitForHello(run, settings.startTimeoutMs, path.relative(wsDir, runDir));
}

/** Progress notification until the hello: resolves when it came, kills the trainer on cancel or timeout. */
async function waitForHello(run: LiveRun, timeoutMs: number, runDirLabel: string): Promise<void> {
  const outcome = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `HiMA: starting run ${run.runId}`, cancellable: true },
    (progress, token) => {
      progress.report({ message: "starting Python, importing torch, building the model…" });
      let timer: NodeJS.Timeout | undefined;
      return new Promise<"hello" | "exited" | "cancelled" | "timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), timeoutMs);
        token.onCancellationRequested(() => resolve("cancelled"));
        run.hello.then(
          () => resolve("hello"),
          () => resolve("exited"),
        );
      }).finally(() => clearTimeout(timer));
    },
  );
  if (outcome === "hello") return;
  if (outcome === "exited") return; // LiveRun reports the crash with its stderr tail.
  run.cancelled = true;
  run.manager.kill();
  if (outcome === "timeout") {
    const tail = run.manager.stderrTail().slice(-6).join("\n");
    const choice = await vscode.window.showErrorMessage(
      `HiMA: the trainer did not start within ${Math.round(timeoutMs / 1000)} s (no hello event), so it was stopped. ` +
        `Raise hima.startTimeoutSeconds if the machine is slow.${tail ? `\n${tail}` : ""}`,
      "Show Log",
    );
    if (choice === "Show Log") await vscode.window.showTextDocument(vscode.Uri.file(run.stderrLogPath()));
  } else {
    void vscode.window.showInformationMessage(`HiMA: run ${run.runId} cancelled before it started (${runDirLabel}).`);
  }
}
