// HiMA: Open Run — pick a past run under the runs folder and replay its events.jsonl into the panel.
import * as vscode from "vscode";
import { RunModel } from "../run/RunModel";
import { listRuns, readRunEvents } from "../run/RunStore";
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
  const items = runs.map((r) => ({
    label: `${r.status === "done" ? "$(pass)" : "$(warning)"} ${r.id}`,
    description: [r.method, r.preset, r.steps !== null ? `${r.steps} steps` : null, r.status === "done" ? null : live && !live.isEnded && live.runId === r.id ? "live" : "incomplete"]
      .filter(Boolean)
      .join(" · "),
    detail: new Date(r.mtime).toLocaleString(),
    run: r,
  }));
  const picked = await vscode.window.showQuickPick(items, { title: "HiMA: Open Run", placeHolder: "Run to replay in the tier panel", matchOnDescription: true });
  if (!picked) return;
  if (live && !live.isEnded && live.runId === picked.run.id) {
    services.panel.show(live.model);
    await services.panel.reveal();
    return;
  }
  const model = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Window, title: `HiMA: loading run ${picked.run.id}` },
    async () => {
      const { events, skipped, torn } = await readRunEvents(picked.run.dir);
      const m = new RunModel({ maxPoints: settings.chartMaxPoints });
      for (const e of events) m.apply(e);
      m.setStatus("replay");
      if (skipped > 0 || torn) {
        services.log.warn(`Run ${picked.run.id}: ${skipped} line(s) skipped${torn ? ", last line torn (the run was cut off)" : ""}`);
        void vscode.window.showWarningMessage(`HiMA: run ${picked.run.id}: ${skipped} unreadable line(s) skipped${torn ? "; the log ends mid-line (the run was cut off)" : ""}.`);
      }
      if (events.length === 0) throw new Error(`run ${picked.run.id} has no events`);
      return m;
    },
  );
  services.panel.show(model);
  await services.panel.reveal();
}
