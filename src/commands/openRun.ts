// HiMA: Open Run — pick a run under the runs folder: a past one is replayed from its events.jsonl into the
// panel; one still training (started by an earlier window) is attached to and followed live.
import * as vscode from "vscode";
import { RunModel } from "../run/RunModel";
import { listRuns, readRunEvents } from "../run/RunStore";
import { findLiveRun, findLiveRuns, safeRunDir } from "../run/runDiscovery";
import { attachLiveRun } from "./reattach";
import type { HimaServices } from "./services";
import { readSettings } from "./settings";

export async function openRun(services: HimaServices): Promise<void> {
  const settings = readSettings();
  const runs = await listRuns(settings.runsFolder);
  if (runs.length === 0) {
    void vscode.window.showInformationMessage(`HiMA: no runs in ${settings.runsFolder} yet. Start one with HiMA: Start Training.`);
    return;
  }
  const live = services.liveRun();
  const training = new Set((await findLiveRuns(settings.runsFolder)).map((r) => r.id));
  if (live && !live.isEnded) training.add(live.runId);
  const items = runs.map((r) => ({
    label: `${r.status === "done" ? "$(pass)" : "$(warning)"} ${r.id}`,
    description: [r.method, r.preset, r.steps !== null ? `${r.steps} steps` : null, training.has(r.id) ? "live" : r.status === "done" ? null : "incomplete"]
      .filter(Boolean)
      .join(" · "),
    detail: new Date(r.mtime).toLocaleString(),
    run: r,
  }));
  const picked = await vscode.window.showQuickPick(items, { title: "HiMA: Open Run", placeHolder: "Run to replay in the tier panel", matchOnDescription: true });
  if (!picked) return;
  await showRunInPanel(services, picked.run.id);
}

/** Shows run `runId` in the tier panel: the live run as it is, a run another window started followed live, else a replay. */
export async function showRunInPanel(services: HimaServices, runId: string): Promise<void> {
  const settings = readSettings();
  const live = services.liveRun();
  if (live && !live.isEnded && live.runId === runId) {
    services.panel.show(live.model);
    await services.panel.reveal();
    return;
  }
  const runDir = safeRunDir(settings.runsFolder, runId);
  const trainer = await findLiveRun(settings.runsFolder, runId);
  if (trainer) {
    // Still training, started by an earlier window: follow it live (the current live run, if any, keeps
    // training detached and can be opened again).
    attachLiveRun(services, trainer, settings.chartMaxPoints);
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
