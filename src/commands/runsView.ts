// HiMA: Show Runs (the Runs view; with several runs folders listed it asks which one) and HiMA: Export Runs.
// Registered from extension.ts in one call, so the commands of this feature live in one place.
// `hima.exportRuns` takes an optional ExportRequest argument (tests and keybindings pass `out` and skip the
// dialog); without one it asks which runs and which format.
import * as vscode from "vscode";
import { EXPORT_FORMATS, type ExportFormat } from "../../common/runsMessages";
import { RunsPanel, type ExportRequest } from "../views/RunsPanel";
import { listRuns } from "../run/RunStore";
import { folderLabel, showRunInPanel } from "./openRun";
import type { HimaServices } from "./services";
import { listedRunsFolders, readSettings, workspaceDir } from "./settings";

export function registerRunsView(services: HimaServices, register: (id: string, title: string, run: (...args: unknown[]) => unknown) => void): RunsPanel {
  const runsPanel = new RunsPanel({
    extensionUri: services.extensionContext.extensionUri,
    log: services.log,
    runsFolder: () => readSettings().runsFolder,
    workspaceFolder: workspaceDir,
    openRun: (runsDir, id) => showRunInPanel(services, runsDir, id),
  });
  services.extensionContext.subscriptions.push(runsPanel);
  register("hima.showRuns", "Show Runs", async () => {
    const picked = await pickRunsFolder(services);
    if (picked) runsPanel.show(picked.folder);
  });
  register("hima.exportRuns", "Export Runs", (arg) => exportRunsCommand(runsPanel, arg as ExportRequest | undefined));
  return runsPanel;
}

/** The runs folder to show (undefined: hima.runsFolder), asked for when several are listed; null: dismissed. */
async function pickRunsFolder(services: HimaServices): Promise<{ folder: string | undefined } | null> {
  const folders = listedRunsFolders(services.log);
  if (folders.length <= 1) return { folder: undefined };
  const counts = await Promise.all(folders.map((f) => listRuns(f).then((r) => r.length, () => 0)));
  const picked = await vscode.window.showQuickPick(
    folders.map((f, i) => ({ label: folderLabel(f), description: `${counts[i]} run${counts[i] === 1 ? "" : "s"}`, detail: i === 0 ? "hima.runsFolder: new runs go here" : "hima.runsFolders", folder: i === 0 ? undefined : f })),
    { title: "HiMA: Show Runs", placeHolder: "Runs folder to show" },
  );
  return picked ? { folder: picked.folder } : null;
}

async function exportRunsCommand(panel: RunsPanel, arg: ExportRequest | undefined): Promise<string[]> {
  if (arg && typeof arg === "object" && Array.isArray(arg.ids) && (EXPORT_FORMATS as readonly unknown[]).includes(arg.format)) return panel.export(arg);
  const runs = await panel.runs().list();
  if (runs.length === 0) {
    void vscode.window.showInformationMessage(`HiMA: no runs in ${panel.runs().runsDir} yet.`);
    return [];
  }
  const picked = await vscode.window.showQuickPick(
    runs.map((r) => ({ label: r.name, description: [r.id !== r.name ? r.id : null, r.method, r.status].filter(Boolean).join(" · "), id: r.id })),
    { title: "HiMA: Export Runs", placeHolder: "Runs to export", canPickMany: true },
  );
  if (!picked?.length) return [];
  const format = await vscode.window.showQuickPick(
    [
      { label: "csv", description: "each run's scalar series as CSV" },
      { label: "tensorboard", description: "TensorBoard event files (tensorboard --logdir <folder>)" },
      { label: "markdown", description: "a comparison report against the first run" },
    ],
    { title: "HiMA: Export Runs", placeHolder: "Format" },
  );
  if (!format) return [];
  return panel.export({ format: format.label as ExportFormat, ids: picked.map((p) => p.id) });
}
