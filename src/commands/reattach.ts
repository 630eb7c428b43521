// Re-attaching to runs that outlived their window: on activation, the newest run still training under a
// listed runs folder (a trainer, or a user's script with RunMonitor) becomes this window's live run again
// (its log replayed, new events followed, controls and Stop working); Open Run attaches to any other one.
import * as vscode from "vscode";
import { DetachedRun } from "../run/DetachedRun";
import { findLiveRuns, type LiveRunInfo } from "../run/runDiscovery";
import { showLiveRun } from "./liveRunView";
import type { HimaServices } from "./services";
import { listedRunsFolders, readSettings } from "./settings";

/** Attaches to the newest live run, if any and if this window has none. */
export async function reattachOnActivation(services: HimaServices): Promise<void> {
  if (services.liveRun() && !services.liveRun()!.isEnded) return;
  const settings = readSettings();
  const live = (await Promise.all(listedRunsFolders(services.log).map((f) => findLiveRuns(f).catch(() => [])))).flat();
  live.sort((a, b) => (b.record.startedMs ?? 0) - (a.record.startedMs ?? 0));
  if (live.length === 0) return;
  if (live.length > 1) services.log.info(`Runs still training: ${live.map((r) => r.id).join(", ")}; attaching to the newest, ${live[0].id} (HiMA: Open Run shows the others).`);
  attachLiveRun(services, live[0], settings.chartMaxPoints);
  const mine = live[0].record.writer === "monitor";
  void vscode.window.showInformationMessage(mine ? `HiMA: run ${live[0].id} is training (your script, pid ${live[0].record.pid}); the panel follows it.` : `HiMA: run ${live[0].id} is still training; the panel follows it again.`);
}

export function attachLiveRun(services: HimaServices, info: LiveRunInfo, chartMaxPoints: number): void {
  const who = info.record.writer === "monitor" ? "your script's" : "trainer";
  services.log.info(`Attaching to run ${info.id} in ${info.dir} (${who} pid ${info.record.pid})`);
  showLiveRun(services, DetachedRun.attach(info.id, info.dir, info.record), chartMaxPoints);
}
