// HiMA: Start Training from Checkpoint… — which weights a fine-tuning run starts from: a recorded run's latest
// checkpoint (its model weights; the optimizer, schedule and tiers start afresh), or any file picked on disk (a
// HiMA checkpoint or a state dict saved with torch.save). The trainer checks the file (hima.app.base_weights).
import * as vscode from "vscode";
import { resumableRuns } from "../run/runDiscovery";
import type { HimaSettings } from "./settings";

type BaseItem = vscode.QuickPickItem & { path?: string };

export async function pickBase(settings: HimaSettings): Promise<string | undefined> {
  const runs = await resumableRuns(settings.runsFolder).catch(() => []);
  const items: BaseItem[] = runs.map((run) => ({
    label: run.id,
    description: [run.preset, run.method, run.steps !== null ? `${run.steps} steps` : null, run.status].filter(Boolean).join(" · "),
    detail: run.checkpoint,
    path: run.checkpoint,
  }));
  items.push({ label: "$(folder-opened) Browse for a checkpoint or state dict…", alwaysShow: true });
  const picked = await vscode.window.showQuickPick(items, {
    title: "HiMA: start from which weights?",
    placeHolder: runs.length ? "a recorded run's latest checkpoint, or a file" : "no recorded run has a checkpoint yet: browse for a file",
    matchOnDetail: true,
  });
  if (!picked) return undefined;
  if (picked.path) return picked.path;
  const files = await vscode.window.showOpenDialog({
    title: "Base weights: a HiMA checkpoint (.pt), a run folder, or a torch.save'd state dict",
    canSelectFiles: true,
    canSelectFolders: true,
    canSelectMany: false,
    openLabel: "Start from these weights",
  });
  return files?.[0]?.fsPath;
}
