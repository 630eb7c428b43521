// HiMA: Resume Run — pick a run (of any listed runs folder) that has a checkpoint and no trainer, and continue
// it in the same run folder (detached, like a new run). The panel replays the run's log, then follows the
// resumed trainer.
import * as path from "node:path";
import * as vscode from "vscode";
import { DetachedRun } from "../run/DetachedRun";
import { resumeLaunch } from "../run/resumeLaunch";
import { resumableRuns } from "../run/runDiscovery";
import { ensurePython } from "./ensurePython";
import { showLiveRun, waitForHello } from "./liveRunView";
import type { HimaServices } from "./services";
import { folderLabel } from "./openRun";
import { listedRunsFolders, readSettings, workspaceForPython } from "./settings";

export async function resumeRun(services: HimaServices): Promise<void> {
  const wsDir = await workspaceForPython("resuming a run");
  if (!wsDir) return;
  const settings = readSettings();
  const refused: string[] = [];
  const folders = listedRunsFolders(services.log);
  const runs = (await Promise.all(folders.map(async (runsDir) => (await resumableRuns(runsDir, refused)).map((r) => ({ ...r, runsDir }))))).flat();
  runs.sort((a, b) => b.mtime - a.mtime);
  for (const reason of refused) services.log.warn(`Resume Run: not offering ${reason}`);
  if (refused.length) void vscode.window.showWarningMessage(`HiMA: ${refused.length === 1 ? "a run is" : `${refused.length} runs are`} not offered for resuming: ${refused[0]}${refused.length > 1 ? " (see the HiMA output for the others)" : ""}`);
  if (runs.length === 0) {
    void vscode.window.showInformationMessage(`HiMA: no run in ${folders.map(folderLabel).join(", ")} has a checkpoint to resume from (runs still training are not listed).`);
    return;
  }
  const picked = await vscode.window.showQuickPick(
    runs.map((r) => ({
      label: r.id,
      description: [r.method, r.preset, r.steps !== null ? `${r.steps} steps` : null, r.status === "done" ? "finished" : "cut off"].filter(Boolean).join(" · "),
      detail: `${folders.length > 1 ? `${folderLabel(r.runsDir)} · ` : ""}checkpoint ${path.basename(r.checkpoint)} · ${new Date(r.mtime).toLocaleString()}`,
      run: r,
    })),
    { title: "HiMA: Resume Run", placeHolder: "Run to continue from its latest checkpoint", matchOnDescription: true },
  );
  if (!picked) return;
  const current = services.liveRun();
  if (current && !current.isEnded) {
    const choice = await vscode.window.showWarningMessage(`HiMA run ${current.runId} is still training. Stop it and resume ${picked.run.id}?`, { modal: true }, "Stop and Resume");
    if (choice !== "Stop and Resume") return;
    await current.stop();
  }
  const python = await ensurePython(wsDir, services.extensionContext.extensionPath, services.log);
  if (!python) return;
  const launch = await resumeLaunch(picked.run.runsDir, picked.run.id, python, wsDir);
  services.log.info(`Resuming run ${launch.runId}: ${python} ${launch.args.join(" ")}`);
  const run = showLiveRun(services, DetachedRun.launch(launch), settings.chartMaxPoints);
  void services.panel.reveal();
  await waitForHello(run, settings.startTimeoutMs, path.relative(wsDir, launch.runDir));
}
