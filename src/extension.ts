// Entry point of the HiMA extension: the panel host, the commands, and the one live run of this window
// (re-attached at activation when a detached trainer is still training).
import * as vscode from "vscode";
import type { LiveRun } from "./LiveRun";
import { forgetVerifiedPythons } from "./commands/ensurePython";
import { openRun } from "./commands/openRun";
import { openRunFolder } from "./commands/openRunFolder";
import { panelMessageHandler } from "./commands/panelMessages";
import { prepareDatasetCommand } from "./commands/prepareDataset";
import { reattachOnActivation } from "./commands/reattach";
import { resumeRun } from "./commands/resumeRun";
import { registerRunsView } from "./commands/runsView";
import type { HimaServices } from "./commands/services";
import { setCutoffs } from "./commands/setCutoffs";
import { listedRunsFolders } from "./commands/settings";
import { startTraining } from "./commands/startTraining";
import { stopTraining } from "./commands/stopTraining";
import { PANEL_VIEW_ID, PanelHost } from "./views/PanelHost";

let live: LiveRun | undefined;

export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel("HiMA", { log: true });
  context.subscriptions.push(log);

  let services!: HimaServices;
  const panel = new PanelHost(context.extensionUri, log, (message) => panelMessageHandler(services)(message));
  services = {
    extensionContext: context,
    log,
    panel,
    liveRun: () => live,
    setLiveRun: (run) => {
      live = run;
    },
  };
  context.subscriptions.push(
    panel,
    vscode.window.registerWebviewViewProvider(PANEL_VIEW_ID, panel),
    { dispose: () => live?.dispose() },
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration("hima.pythonPath")) forgetVerifiedPythons();
      if (e.affectsConfiguration("hima.runsFolders") || e.affectsConfiguration("hima.runsFolder")) listedRunsFolders(log); // a bad entry is reported now
    }),
  );

  // Every command runs inside a guard: an exception is logged and shown, never thrown into the host.
  const register = (id: string, title: string, run: (...args: unknown[]) => unknown) =>
    context.subscriptions.push(
      vscode.commands.registerCommand(id, async (...args: unknown[]) => {
        try {
          return await run(...args);
        } catch (err) {
          log.error(`${title} failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
          const choice = await vscode.window.showErrorMessage(`HiMA: ${title} failed: ${err instanceof Error ? err.message : String(err)}`, "Show Log");
          if (choice) log.show();
        }
      }),
    );
  register("hima.startTraining", "Start Training", () => startTraining(services));
  register("hima.startTrainingFromCheckpoint", "Start Training from Checkpoint", () => startTraining(services, { askForBase: true }));
  register("hima.stopTraining", "Stop Training", () => stopTraining(services));
  register("hima.setCutoffs", "Set Cutoffs", () => setCutoffs(services));
  register("hima.openRun", "Open Run", () => openRun(services));
  register("hima.openRunFolder", "Open Run Folder", (folder) => openRunFolder(services, folder));
  register("hima.resumeRun", "Resume Run", () => resumeRun(services));
  register("hima.prepareDataset", "Prepare Dataset", () => prepareDatasetCommand(services));
  register("hima.showPanel", "Show Tier Panel", () => {
    // From the status bar the user means the live run, even if a replay is on screen.
    if (live && !live.isEnded && panel.current !== live.model) panel.show(live.model);
    return panel.reveal();
  });
  register("hima.openPanelInEditor", "Open Tier Panel in Editor", () => panel.openInEditor());
  registerRunsView(services, register);

  // A window reload does not stop training: pick up the run where the panel left it.
  reattachOnActivation(services).catch((err) => log.error(`Re-attaching to a live run failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`));
}

export function deactivate(): void {
  // The trainer is detached and keeps training; the next window re-attaches to it (HiMA: Stop Training stops it).
  live?.dispose();
  live = undefined;
}
