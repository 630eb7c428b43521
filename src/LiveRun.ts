// The one live training run in this window: the trainer (a detached DetachedRun, launched here or attached
// after a reload), the panel state it feeds (RunModel), the status bar item, the alerts while it runs (NaN loss,
// divergence, a stall) and the notifications at its end.
import * as path from "node:path";
import * as vscode from "vscode";
import type { Control, Cutoffs, Event, HelloEvent } from "../protocol/protocol.generated";
import { PROTOCOL_VERSION, RUN_FOLDER } from "../protocol/protocol.generated";
import { applyLiveEvent } from "./run/liveModel";
import { describeEnding } from "./run/endingText";
import { describeExit, type ControlWithoutIdAndVersion, type TrainerExit, type TrainerHandle } from "./run/TrainerHandle";
import { RunModel } from "./run/RunModel";
import { watchRunAlerts, type RunAlert } from "./run/runAlerts";
import type { PanelHost } from "./views/PanelHost";
import { endOfRunNotice, statusBarText, type LiveStatus } from "./views/statusText";

export type ControlRequest = ControlWithoutIdAndVersion;

/** The status bar is redrawn at most this often; every redraw is a message to the workbench. */
const STATUS_INTERVAL_MS = 250;
const SHOWN_STDERR_LINES = 8;

export class LiveRun implements vscode.Disposable {
  readonly model: RunModel;
  /**
   * Resolves with the trainer's hello (this process's own; for an attached run, the one in its log);
   * rejects if the process exits first.
   */
  readonly hello: Promise<HelloEvent>;
  /** Last cutoffs the trainer reported (hello or tiers), for the Set Cutoffs input boxes. */
  cutoffs: Cutoffs | null = null;
  /** Set when the user cancelled the start: the exit is then expected, not a crash to report. */
  cancelled = false;
  private readonly status: LiveStatus = { state: "starting", step: 0, maxSteps: null, loss: null, counts: null };
  private readonly statusItem: vscode.StatusBarItem;
  private readonly unsubscribe: Array<() => void> = [];
  private lastDone: Extract<Event, { type: "done" }> | null = null;
  /** The first fatal error of the current segment: the end-of-run notification says it. */
  private fatalError: string | null = null;
  private statusTimer: NodeJS.Timeout | undefined;
  private ended = false;

  constructor(
    readonly manager: TrainerHandle,
    private readonly panel: PanelHost,
    private readonly log: vscode.LogOutputChannel,
    maxPoints: number,
    private readonly onEnded: (run: LiveRun, exit: TrainerExit) => void,
  ) {
    this.model = new RunModel({ maxPoints });
    this.model.setStatus("starting");
    this.statusItem = vscode.window.createStatusBarItem("hima.run", vscode.StatusBarAlignment.Left, 50);
    this.statusItem.name = "HiMA Run";
    this.statusItem.command = "hima.showPanel";
    this.statusItem.tooltip = `HiMA run ${manager.runId} — click to show the tier panel`;
    this.renderStatus();
    this.statusItem.show();

    let resolveHello!: (h: HelloEvent) => void;
    let rejectHello!: (e: Error) => void;
    this.hello = new Promise((res, rej) => ((resolveHello = res), (rejectHello = rej)));
    this.hello.catch(() => {}); // Observed by whoever awaits the start; never an unhandled rejection.

    this.unsubscribe.push(
      manager.onEvent((e, replayed) => {
        // A resumed run's log starts with the old segment's hello: the start is the new trainer's hello.
        if (e.type === "hello" && (!replayed || manager.attached)) resolveHello(e);
        this.onEvent(e, replayed);
      }),
      manager.onControlFailed((id, reason) => {
        this.log.warn(`[trainer ${manager.runId}] control ${id} not delivered: ${reason}`);
        this.model.apply({ v: PROTOCOL_VERSION, type: "rejected", id, reason: `not delivered to the trainer: ${reason}` });
        this.panel.scheduleUpdate();
      }),
      manager.onNoise((text, reason) => this.log.warn(`[trainer ${manager.runId}] ${reason}: ${text.slice(0, 500)}`)),
      // NaN loss, divergence, a stall: a notification once per kind until the run recovers (src/run/runAlerts.ts).
      watchRunAlerts(manager, (alert) => void this.showAlert(alert)),
      manager.onExit((exit) => {
        rejectHello(new Error(`the trainer exited before it started (${describeExit(exit)})`));
        this.onExit(exit);
      }),
    );
  }

  get runId(): string {
    return this.manager.runId;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** Sends a control line and shows it as pending in the panel until the trainer acks or rejects it. */
  sendControl(request: ControlRequest): string {
    if (this.ended) throw new Error(`run ${this.runId} has ended`);
    const id = this.manager.sendControl(request);
    this.model.trackControl(id, { ...request, id, v: PROTOCOL_VERSION } as Control);
    this.panel.scheduleUpdate();
    this.log.info(`[trainer ${this.runId}] control ${id}: ${JSON.stringify(request)}`);
    return id;
  }

  /** Graceful stop (the trainer finishes the step, checkpoints, says done), then SIGTERM/SIGKILL after a grace period. */
  stop(): Promise<TrainerExit> {
    if (!this.ended) {
      this.status.state = "stopping";
      this.model.setStatus("stopping");
      this.renderStatus();
      this.panel.scheduleUpdate();
    }
    return this.manager.stop();
  }

  stderrLogPath(): string {
    return path.join(this.manager.runDir, RUN_FOLDER.stderr);
  }

  dispose(): void {
    if (this.statusTimer) clearTimeout(this.statusTimer);
    for (const u of this.unsubscribe.splice(0)) u();
    this.statusItem.dispose();
    // A detached trainer keeps training without this window; a later window re-attaches to it.
    if (!this.ended) this.manager.release();
  }

  private onEvent(e: Event, replayed: boolean): void {
    applyLiveEvent(this.model, e, replayed);
    switch (e.type) {
      case "hello":
        this.status.state = "running";
        this.status.maxSteps = e.max_steps;
        this.status.step = e.start_step;
        this.cutoffs = e.cutoffs;
        break;
      case "step":
        this.status.step = e.step;
        this.status.loss = e.loss;
        break;
      case "tiers":
        this.status.counts = e.counts;
        this.cutoffs = e.cutoffs;
        break;
      case "status":
        this.status.state = e.state;
        break;
      case "error":
        this.log.error(`[trainer ${this.runId}] ${e.fatal ? "fatal error" : "error"}: ${e.message}`);
        // A fatal error ends the run: the notification at its exit carries the message (one toast, not two).
        if (e.fatal && !replayed) this.fatalError ??= e.message;
        break;
      case "rejected":
        this.log.warn(`[trainer ${this.runId}] control ${e.id ?? "?"} rejected: ${e.reason}`);
        break;
      case "done":
        // A replayed done ended an earlier segment of this run; the next hello starts the current one.
        if (replayed) this.status.state = "starting";
        else this.lastDone = e;
        break;
    }
    this.scheduleStatus();
    this.panel.scheduleUpdate();
  }

  private onExit(exit: TrainerExit): void {
    this.ended = true;
    // An attached run's exit status is not ours to see; its `done` says how it ended.
    const how = describeEnding(exit, this.lastDone);
    this.model.setStatus(exit.crashed ? "crashed" : "done", how, exit.crashed ? exit.stderrTail : []);
    this.panel.scheduleUpdate();
    this.statusItem.hide();
    this.log.info(`[trainer ${this.runId}] exited: ${how}${exit.sawDone ? "" : " (no done event)"}`);
    this.onEnded(this, exit);
    if (this.cancelled) return;
    const notice = endOfRunNotice({
      runId: this.runId, how, crashed: exit.crashed, done: this.lastDone, fatalError: this.fatalError,
      stderrTail: exit.stderrTail.slice(-SHOWN_STDERR_LINES),
    });
    if (notice.severity === "error") void this.reportFailure(notice.text);
    else void vscode.window.showInformationMessage(notice.text);
  }

  private async showAlert(alert: RunAlert): Promise<void> {
    this.log.warn(`[trainer ${this.runId}] alert (${alert.kind}): ${alert.message}`);
    const choice = await vscode.window.showWarningMessage(`HiMA run ${this.runId}: ${alert.message}`, "Show");
    if (choice === "Show") await vscode.commands.executeCommand("hima.showPanel");
  }

  private async reportFailure(text: string): Promise<void> {
    const choice = await vscode.window.showErrorMessage(text, "Show Log");
    if (choice === "Show Log") await vscode.window.showTextDocument(vscode.Uri.file(this.stderrLogPath()));
  }

  private scheduleStatus(): void {
    this.statusTimer ??= setTimeout(() => {
      this.statusTimer = undefined;
      this.renderStatus();
    }, STATUS_INTERVAL_MS);
  }

  private renderStatus(): void {
    if (this.statusTimer) clearTimeout(this.statusTimer);
    this.statusTimer = undefined;
    if (!this.ended) this.statusItem.text = statusBarText(this.status);
  }
}
