// HiMA: Stop Training — asks the trainer to stop (it finishes the step, checkpoints, says done); the trainer
// handle's stop sequence (src/run/TrainerHandle.ts) escalates to SIGTERM and SIGKILL after the grace period. The end is reported by LiveRun.
import * as vscode from "vscode";
import type { HimaServices } from "./services";

export async function stopTraining(services: HimaServices): Promise<void> {
  const run = services.liveRun();
  if (!run || run.isEnded) {
    void vscode.window.showInformationMessage("HiMA: no run is training.");
    return;
  }
  await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Window, title: `HiMA: stopping run ${run.runId}` },
    () => run.stop(),
  );
}
