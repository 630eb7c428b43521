// The Runs view: an editor tab with the table of every run in one runs folder (HiMA: Show Runs asks which
// when several are listed), the comparison of the runs picked in it, a run's tier timeline and the exports.
// This file is the `vscode` side (the tab, dialogs, confirmations); what it shows comes from src/runs/ (plain
// Node), and the page is webview/runs/.
import * as vscode from "vscode";
import { parseRunsMessage, type ExportFormat, type RunsHostToView, type RunsViewToHost } from "../../common/runsMessages";
import { exportRuns, exportsToFolder } from "../runs/exportRuns";
import { MAX_NAME_LENGTH } from "../runs/runMeta";
import { RunsLibrary } from "../runs/runsLibrary";
import { newNonce, panelHtml } from "./panelHtml";
import { savePng } from "./savePng";

const PANEL_TYPE = "hima.runs";
/** How often the timeline of a live run is re-read while it is shown. */
const LIVE_TIMELINE_MS = 2000;

export interface RunsPanelDeps {
  extensionUri: vscode.Uri;
  log: vscode.LogOutputChannel;
  /** The runs folder shown until show() is given another (hima.runsFolder). */
  runsFolder: () => string;
  workspaceFolder: () => string | undefined;
  /** Shows a run of a runs folder in the tier panel (replay, or live). */
  openRun: (runsDir: string, id: string) => Promise<void>;
}

/** An export asked for from the view or from the command `hima.exportRuns`; `out` skips the save dialog. */
export interface ExportRequest {
  format: ExportFormat;
  ids: string[];
  baseline?: string | null;
  out?: string;
}

export class RunsPanel implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private library: RunsLibrary | undefined;
  /** The runs folder picked in HiMA: Show Runs; undefined: the default. */
  private folder: string | undefined;
  private seq = 0;
  private liveTimeline: { id: string; timer: ReturnType<typeof setInterval> } | undefined;

  constructor(private readonly deps: RunsPanelDeps) {}

  /** The library for the current runs folder (a changed setting gives a fresh one). */
  runs(): RunsLibrary {
    const folder = this.folder ?? this.deps.runsFolder();
    if (!this.library || this.library.runsDir !== folder) this.library = new RunsLibrary(folder);
    return this.library;
  }

  /** Opens (or reveals) the view on `folder`; undefined: hima.runsFolder (followed when the setting changes). */
  show(folder?: string): void {
    this.folder = folder;
    if (this.panel) {
      this.panel.reveal();
      void this.sendRuns();
      return;
    }
    const roots = [vscode.Uri.joinPath(this.deps.extensionUri, "dist"), vscode.Uri.joinPath(this.deps.extensionUri, "media")];
    const panel = vscode.window.createWebviewPanel(PANEL_TYPE, "HiMA Runs", vscode.ViewColumn.Active, { enableScripts: true, localResourceRoots: roots, retainContextWhenHidden: true });
    panel.iconPath = vscode.Uri.joinPath(this.deps.extensionUri, "media", "hima.svg");
    panel.webview.html = panelHtml({
      scriptUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(this.deps.extensionUri, "dist", "runs.js")).toString(),
      styleUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(this.deps.extensionUri, "dist", "runs.css")).toString(),
      cspSource: panel.webview.cspSource,
      nonce: newNonce(),
      title: "HiMA Runs",
    });
    panel.webview.onDidReceiveMessage((raw) => this.receive(raw));
    panel.onDidDispose(() => {
      this.panel = undefined;
      this.stopLiveTimeline();
    });
    this.panel = panel;
  }

  dispose(): void {
    this.stopLiveTimeline();
    this.panel?.dispose();
  }

  /** Writes an export; asks where when `out` is not given. Returns the files written (none when cancelled). */
  async export(req: ExportRequest): Promise<string[]> {
    const records = await Promise.all(req.ids.map((id) => this.runs().record(id)));
    let out = req.out;
    if (!out) {
      const base = this.deps.workspaceFolder();
      if (exportsToFolder(req.format, records.length)) {
        const picked = await vscode.window.showOpenDialog({
          canSelectFolders: true, canSelectFiles: false, canSelectMany: false, openLabel: "Export here",
          title: req.format === "tensorboard" ? "TensorBoard log folder (one subfolder per run)" : "Folder for the CSV files",
          defaultUri: base ? vscode.Uri.file(base) : undefined,
        });
        out = picked?.[0]?.fsPath;
      } else {
        const name = req.format === "csv" ? `${req.ids[0]}.csv` : "hima-comparison.md";
        const picked = await vscode.window.showSaveDialog({
          defaultUri: base ? vscode.Uri.joinPath(vscode.Uri.file(base), name) : undefined,
          filters: req.format === "csv" ? { CSV: ["csv"] } : { Markdown: ["md"] },
          title: req.format === "csv" ? "Save the run's series as CSV" : "Save the comparison report",
        });
        out = picked?.fsPath;
      }
    }
    if (!out) return [];
    const written = exportRuns(records, req.format, out, req.baseline ?? undefined);
    this.deps.log.info(`exported ${req.format}: ${written.join(", ")}`);
    this.notice("info", `Exported ${req.format === "markdown" ? "the comparison report" : `${records.length} run${records.length === 1 ? "" : "s"} as ${req.format}`} to ${written.length === 1 ? written[0] : out}`);
    return written;
  }

  private post(message: RunsHostToView): void {
    void this.panel?.webview.postMessage(message);
  }

  private notice(level: "info" | "error", text: string): void {
    this.post({ kind: "notice", level, text });
  }

  private async sendRuns(): Promise<void> {
    const runs = await this.runs().list();
    this.post({ kind: "runs", runs, folder: this.runs().runsDir, seq: ++this.seq });
  }

  private receive(raw: unknown): void {
    const message = parseRunsMessage(raw);
    if (typeof message === "string") {
      this.deps.log.warn(`runs view message dropped: ${message}`);
      return;
    }
    this.handle(message).catch((err) => {
      this.deps.log.error(`runs view ${message.kind} failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
      this.notice("error", `${message.kind} failed: ${err instanceof Error ? err.message : String(err)}`);
    });
  }

  private async handle(m: RunsViewToHost): Promise<void> {
    switch (m.kind) {
      case "ready":
      case "refresh":
        return this.sendRuns();
      case "painted":
        return;
      case "compare":
        this.post({ kind: "compare", view: await this.runs().compareView(m.ids, m.baseline, m.smoothing), seq: ++this.seq });
        return;
      case "timeline":
        return this.sendTimeline(m.id, true);
      case "setMeta":
        await this.runs().setMeta(m.id, { tags: m.tags, note: m.note });
        this.notice("info", `Saved tags and note of ${m.id}`);
        return this.sendRuns();
      case "rename": {
        const current = (await this.runs().record(m.id)).summary.name;
        const name = await vscode.window.showInputBox({
          title: `HiMA: rename run ${m.id}`,
          prompt: "The name shown in the runs table (the folder keeps its id; empty: show the id)",
          value: current === m.id ? "" : current,
          validateInput: (v) => (v.length > MAX_NAME_LENGTH ? `At most ${MAX_NAME_LENGTH} characters` : /[\u0000-\u001f\u007f]/.test(v) ? "No control characters" : undefined),
        });
        if (name === undefined) return;
        await this.runs().setMeta(m.id, { name: name.trim() || null });
        return this.sendRuns();
      }
      case "delete": {
        const choice = await vscode.window.showWarningMessage(
          `Delete run ${m.id}? Its folder (event log, checkpoints, tags and note) is removed; this cannot be undone.`,
          { modal: true },
          "Delete",
        );
        if (choice !== "Delete") return;
        await this.runs().delete(m.id);
        this.notice("info", `Deleted run ${m.id}`);
        return this.sendRuns();
      }
      case "openRun":
        return this.deps.openRun(this.runs().runsDir, m.id);
      case "export":
        await this.export({ format: m.format, ids: m.ids, baseline: m.baseline });
        return;
      case "savePng":
        return savePng(m.name, m.dataUrl);
    }
  }

  private async sendTimeline(id: string, fromUser: boolean): Promise<void> {
    const view = await this.runs().timelineView(id);
    this.post({ kind: "timeline", view, seq: ++this.seq });
    if (fromUser) this.stopLiveTimeline();
    if (view.live && !this.liveTimeline) {
      const timer = setInterval(() => {
        if (this.panel?.visible) this.sendTimeline(id, false).catch((err) => this.deps.log.warn(`live timeline: ${String(err)}`));
      }, LIVE_TIMELINE_MS);
      this.liveTimeline = { id, timer };
    } else if (!view.live) this.stopLiveTimeline();
  }

  private stopLiveTimeline(): void {
    if (this.liveTimeline) clearInterval(this.liveTimeline.timer);
    this.liveTimeline = undefined;
  }
}
