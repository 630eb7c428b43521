// HiMA: Set Cutoffs — the keyboard way to move the Hot/Warm cutoffs of the live run. The panel shows the
// control as pending until the trainer acks it (and from which step it applies) or rejects it.
import * as vscode from "vscode";
import { DEFAULT_CUTOFFS } from "../../protocol/protocol.generated";
import { formatCutoff, parseCutoff, validateHot, validateWarm } from "./cutoffInput";
import type { HimaServices } from "./services";
import { readSettings } from "./settings";

export async function setCutoffs(services: HimaServices): Promise<void> {
  const run = services.liveRun();
  if (!run || run.isEnded) {
    void vscode.window.showInformationMessage("HiMA: no run is training; cutoffs can be changed while a run is live.");
    return;
  }
  const current = run.cutoffs ?? readSettings().cutoffs ?? DEFAULT_CUTOFFS;
  const hotText = await vscode.window.showInputBox({
    title: "HiMA: Set Cutoffs (1/2)",
    prompt: "Hot cutoff: fraction of parameter elements (highest scores first) updated every step, 0..1",
    value: formatCutoff(current.hot),
    validateInput: validateHot,
  });
  if (hotText === undefined) return;
  const hot = parseCutoff(hotText) as number;
  const warmText = await vscode.window.showInputBox({
    title: "HiMA: Set Cutoffs (2/2)",
    prompt: `Warm cutoff: fraction of elements that are Hot or Warm, ${formatCutoff(hot)}..1 (the rest is Cold)`,
    value: formatCutoff(Math.max(current.warm, hot)),
    validateInput: (text) => validateWarm(text, hot),
  });
  if (warmText === undefined) return;
  const warm = parseCutoff(warmText) as number;
  if (run.isEnded) {
    void vscode.window.showWarningMessage(`HiMA: run ${run.runId} ended before the cutoffs were sent.`);
    return;
  }
  run.sendControl({ type: "set_cutoffs", hot, warm });
  vscode.window.setStatusBarMessage(`HiMA: cutoffs hot=${formatCutoff(hot)} warm=${formatCutoff(warm)} sent — waiting for the trainer's ack`, 5000);
}
