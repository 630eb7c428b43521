// HiMA: Open Run — pick a run under any listed runs folder (hima.runsFolder, hima.runsFolders): a past one is
// replayed from its events.jsonl into the panel; one still being written (a trainer an earlier window started,
// a user's own script with hima.monitor.RunMonitor) is attached to and followed live. HiMA: Open Run Folder…
// does the same for a folder picked on disk.
import * as path from "node:path";
import * as vscode from "vscode";
import { RunModel } from "../run/RunModel";
import { listRuns, readRunEvents, type RunListing } from "../run/RunStore";
import { findLiveRunIn, findLiveRuns, safeRunDir } from "../run/runDiscovery";
import { attachLiveRun } from "./reattach";
import type { HimaServices } from "./services";
import { listedRunsFolders, readSettings, workspaceDir } from "./settings";

/** A run of a listed runs folder (ids are unique within a folder only). */
export interface ListedRun extends RunListing {
  runsDir: string;
}

/** The runs of every listed runs folder, newest first. */
export async function listAllRuns(folders: string[]): Promise<ListedRun[]> {
  const perFolder = await Promise.all(folders.map(async (runsDir) => (await listRuns(runsDir)).map((r) => ({ ...r, runsDir }))));
  return perFolder.flat().sort((a, b) => b.mtime - a.mtime);
}

/** A folder for display: workspace-relative when inside the workspace. */
export function folderLabel(dir: string): string {
  const ws = workspaceDir();
  const rel = ws ? path.relative(ws, dir) : "";
  return ws && rel && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel : dir;
}

export async function openRun(services: HimaServices): Promise<void> {
  const folders = listedRunsFolders(services.log);
  const runs = await listAllRuns(folders);
  if (runs.length === 0) {
    void vscode.window.showInformationMessage(`HiMA: no runs in ${folders.map(folderLabel).join(", ") || "any runs folder"} yet. Start one with HiMA: Start Training, or open one with HiMA: Open Run Folder….`);
    return;
  }
  const live = services.liveRun();
  const training = new Set((await Promise.all(folders.map((f) => findLiveRuns(f)))).flat().map((r) => r.dir));
  if (live && !live.isEnded) training.add(live.manager.runDir);
  const several = folders.length > 1;
  const items = runs.map((r) => ({
    label: `${r.status === "done" ? "$(pass)" : "$(warning)"} ${r.id}`,
    description: [r.method, r.preset, r.steps !== null ? `${r.steps} steps` : null, training.has(r.dir) ? "live" : r.status === "done" ? null : "incomplete"]
      .filter(Boolean)
      .join(" · "),
    detail: [several ? folderLabel(r.runsDir) : null, new Date(r.mtime).toLocaleString()].filter(Boolean).join(" · "),
    run: r,
  }));
  const picked = await vscode.window.showQuickPick(items, { title: "HiMA: Open Run", placeHolder: "Run to replay in the tier panel", matchOnDescription: true, matchOnDetail: several });
  if (!picked) return;
  await showRunInPanel(services, picked.run.runsDir, picked.run.id);
}

/** Shows run `runId` of `runsDir` in the tier panel (see showRunFolderInPanel). */
export async function showRunInPanel(services: HimaServices, runsDir: string, runId: string): Promise<void> {
  await showRunFolderInPanel(services, safeRunDir(runsDir, runId), runId);
}

/**
 * Shows the run in folder `runDir` in the tier panel: the live run as it is, a run still being written by
 * another process followed live (the current live run, if any, keeps training detached and can be opened
 * again), else a replay of its log.
 */
export async function showRunFolderInPanel(services: HimaServices, runDir: string, runId: string): Promise<void> {
  const settings = readSettings();
  const live = services.liveRun();
  if (live && !live.isEnded && path.resolve(live.manager.runDir) === path.resolve(runDir)) {
    services.panel.show(live.model);
    await services.panel.reveal();
    return;
  }
  const writer = await findLiveRunIn(runDir, runId);
  if (writer) {
    attachLiveRun(services, writer, settings.chartMaxPoints);
    await services.panel.reveal();
    return;
  }
  const model = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Window, title: `HiMA: loading run ${runId}` },
    async () => {
      const { events, skipped, torn } = await readRunEvents(runDir);
      const m = new RunModel({ maxPoints: settings.chartMaxPoints });
      for (const e of events) m.apply(e);
      m.setStatus("replay");
      if (skipped > 0 || torn) {
        services.log.warn(`Run ${runId}: ${skipped} line(s) skipped${torn ? ", last line torn (the run was cut off)" : ""}`);
        void vscode.window.showWarningMessage(`HiMA: run ${runId}: ${skipped} unreadable line(s) skipped${torn ? "; the log ends mid-line (the run was cut off)" : ""}.`);
      }
      if (events.length === 0) throw new Error(`run ${runId} has no events`);
      return m;
    },
  );
  services.panel.show(model);
  await services.panel.reveal();
}
