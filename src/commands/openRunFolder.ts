// HiMA: Open Run Folder… — any run folder on disk, not only those under a listed runs folder: a run a user's
// own script writes with hima.monitor.RunMonitor, `python -m hima train --out somewhere`, a copied recording.
// Replayed, or followed live (cutoffs and pins through its control socket) while its writer is running.
// Takes an optional folder path (tests, keybindings); without one it asks with a folder picker.
import * as vscode from "vscode";
import { openableRunFolder } from "../run/runDiscovery";
import { showRunFolderInPanel } from "./openRun";
import type { HimaServices } from "./services";
import { readSettings, workspaceDir } from "./settings";

export async function openRunFolder(services: HimaServices, arg?: unknown): Promise<void> {
  let dir = typeof arg === "string" && arg.trim() ? arg.trim() : undefined;
  if (!dir) {
    const start = workspaceDir() ? readSettings().runsFolder : undefined;
    const picked = await vscode.window.showOpenDialog({
      canSelectFolders: true, canSelectFiles: false, canSelectMany: false, openLabel: "Open Run",
      title: "HiMA: Open Run Folder (the folder with events.jsonl)",
      defaultUri: start ? vscode.Uri.file(start) : undefined,
    });
    dir = picked?.[0]?.fsPath;
  }
  if (!dir) return;
  const run = await openableRunFolder(dir);
  if (typeof run === "string") {
    services.log.warn(`Open Run Folder: ${run}`);
    void vscode.window.showErrorMessage(`HiMA: ${run}.`);
    return;
  }
  await showRunFolderInPanel(services, dir, run.id);
}
