// Puts a trainer (launched, resumed or re-attached) on screen as the window's live run: the LiveRun, the
// `hima.runLive` context for the toolbar, the panel. Also the start-up wait shared by Start and Resume.
import * as vscode from "vscode";
import { LiveRun } from "../LiveRun";
import type { TrainerHandle } from "../run/TrainerHandle";
import type { HimaServices } from "./services";

export function showLiveRun(services: HimaServices, handle: TrainerHandle, chartMaxPoints: number): LiveRun {
  const run = new LiveRun(handle, services.panel, services.log, chartMaxPoints, (ended) => {
    if (services.liveRun() === ended) void vscode.commands.executeCommand("setContext", "hima.runLive", false);
  });
  // The previous live run, if any, is let go: a detached trainer keeps training and can be re-attached.
  services.liveRun()?.dispose();
  services.setLiveRun(run);
  void vscode.commands.executeCommand("setContext", "hima.runLive", true);
  services.panel.show(run.model);
  return run;
}

/** Progress notification until the hello: resolves when it came, kills the trainer on cancel or timeout. */
export async function waitForHello(run: LiveRun, timeoutMs: number, runDirLabel: string): Promise<void> {
  const outcome = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `HiMA: starting run ${run.runId}`, cancellable: true },
    (progress, token) => {
      progress.report({ message: "starting Python, importing torch, building the model…" });
      let timer: NodeJS.Timeout | undefined;
      return new Promise<"hello" | "exited" | "cancelled" | "timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), timeoutMs);
        token.onCancellationRequested(() => resolve("cancelled"));
        run.hello.then(
          () => resolve("hello"),
          () => resolve("exited"),
        );
      }).finally(() => clearTimeout(timer));
    },
  );
  if (outcome === "hello") return;
  if (outcome === "exited") return; // LiveRun reports the crash with its stderr tail.
  run.cancelled = true;
  run.manager.kill();
  if (outcome === "timeout") {
    const tail = (await run.manager.exited).stderrTail.slice(-6).join("\n");
    const choice = await vscode.window.showErrorMessage(
      `HiMA: the trainer did not start within ${Math.round(timeoutMs / 1000)} s (no hello event), so it was stopped. ` +
        `Raise hima.startTimeoutSeconds if the machine is slow.${tail ? `\n${tail}` : ""}`,
      "Show Log",
    );
    if (choice === "Show Log") await vscode.window.showTextDocument(vscode.Uri.file(run.stderrLogPath()));
  } else {
    void vscode.window.showInformationMessage(`HiMA: run ${run.runId} cancelled before it started (${runDirLabel}).`);
  }
}
