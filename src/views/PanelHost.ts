// Hosts the tier panel: the sidebar webview view and, on request, the same page in an editor tab. Both show
// the one RunModel that is current (the live run or a replay). Updates are coalesced (at most one message
// per UPDATE_INTERVAL_MS); a webview that was hidden or just (re)loaded gets a full snapshot, because a
// hidden webview drops messages.
import * as vscode from "vscode";
import { parseWebviewMessage, type HostToWebview, type PanelSnapshot, type WebviewToHost } from "../../common/messages";
import { RunModel } from "../run/RunModel";
import { newNonce, panelHtml } from "./panelHtml";

export const PANEL_VIEW_ID = "hima.panel";
const EDITOR_PANEL_TYPE = "hima.panelEditor";
const UPDATE_INTERVAL_MS = 50;

/** One webview showing the panel (sidebar or editor), with what it has been sent. */
interface PanelTarget {
  readonly webview: vscode.Webview;
  visible(): boolean;
  /** The page said `ready`: it has its listeners and can take messages. */
  ready: boolean;
  /** It missed messages (hidden or not ready): it needs a full snapshot before the next update. */
  stale: boolean;
}

export type PanelMessageHandler = (message: Exclude<WebviewToHost, { kind: "ready" } | { kind: "painted" }>) => unknown;

export class PanelHost implements vscode.WebviewViewProvider, vscode.Disposable {
  private readonly targets = new Set<PanelTarget>();
  private model = new RunModel();
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private lastFlush = 0;
  private editorPanel: vscode.WebviewPanel | undefined;
  private readonly painted = new vscode.EventEmitter<number>();
  /** Fires with the `seq` of each message the panel reports as painted (benchmarks and tests). */
  readonly onDidPaint = this.painted.event;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly log: vscode.LogOutputChannel,
    private readonly onMessage: PanelMessageHandler,
  ) {}

  /** Makes `model` the one the panel shows and sends every webview a fresh snapshot. */
  show(model: RunModel): void {
    this.model = model;
    for (const t of this.targets) t.stale = true;
    this.sendSnapshots();
  }

  get current(): RunModel {
    return this.model;
  }

  /** Call after the model changed; the change reaches the webviews within UPDATE_INTERVAL_MS. */
  scheduleUpdate(): void {
    if (this.timer) return;
    const wait = Math.max(0, this.lastFlush + UPDATE_INTERVAL_MS - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, wait);
  }

  notice(level: "info" | "error", text: string): void {
    for (const t of this.targets) if (t.ready && t.visible()) this.post(t, { kind: "notice", level, text });
  }

  /** Reveals the sidebar view (creating it if needed), or the editor tab when that is open. */
  async reveal(): Promise<void> {
    if (this.editorPanel) {
      this.editorPanel.reveal(undefined, true);
      return;
    }
    await vscode.commands.executeCommand(`${PANEL_VIEW_ID}.focus`);
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    const target = this.attach(view.webview, () => view.visible);
    view.onDidChangeVisibility(() => {
      if (view.visible) this.sendSnapshot(target);
      else target.stale = true;
    });
    view.onDidDispose(() => this.targets.delete(target));
  }

  openInEditor(): void {
    if (this.editorPanel) {
      this.editorPanel.reveal();
      return;
    }
    const panel = vscode.window.createWebviewPanel(EDITOR_PANEL_TYPE, "HiMA Tier Panel", vscode.ViewColumn.Active, {
      enableScripts: true,
      localResourceRoots: this.resourceRoots(),
    });
    panel.iconPath = vscode.Uri.joinPath(this.extensionUri, "media", "hima.svg");
    this.editorPanel = panel;
    const target = this.attach(panel.webview, () => panel.visible);
    panel.onDidChangeViewState(() => {
      if (panel.visible) this.sendSnapshot(target);
      else target.stale = true;
    });
    panel.onDidDispose(() => {
      this.targets.delete(target);
      this.editorPanel = undefined;
    });
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.editorPanel?.dispose();
    this.painted.dispose();
    this.targets.clear();
  }

  private resourceRoots(): vscode.Uri[] {
    return [vscode.Uri.joinPath(this.extensionUri, "dist"), vscode.Uri.joinPath(this.extensionUri, "media")];
  }

  private attach(webview: vscode.Webview, visible: () => boolean): PanelTarget {
    webview.options = { enableScripts: true, enableCommandUris: false, localResourceRoots: this.resourceRoots() };
    webview.html = panelHtml({
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, "dist", "webview.js")).toString(),
      styleUri: webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, "dist", "webview.css")).toString(),
      cspSource: webview.cspSource,
      nonce: newNonce(),
    });
    const target: PanelTarget = { webview, visible, ready: false, stale: true };
    this.targets.add(target);
    webview.onDidReceiveMessage((raw) => this.receive(target, raw));
    return target;
  }

  private receive(target: PanelTarget, raw: unknown): void {
    const message = parseWebviewMessage(raw);
    if (typeof message === "string") {
      this.log.warn(`panel message dropped: ${message}`);
      return;
    }
    if (message.kind === "ready") {
      // Also after a reload of the page (e.g. the view was moved): it starts from nothing again.
      target.ready = true;
      this.sendSnapshot(target);
      return;
    }
    if (message.kind === "painted") {
      this.painted.fire(message.seq);
      return;
    }
    Promise.resolve()
      .then(() => this.onMessage(message))
      .catch((err) => {
        this.log.error(`panel message ${message.kind} failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
        this.notice("error", `${message.kind} failed: ${err instanceof Error ? err.message : String(err)}`);
      });
  }

  private sendSnapshots(): void {
    for (const t of this.targets) t.stale = true;
    this.flush();
  }

  private sendSnapshot(target: PanelTarget): void {
    target.stale = true;
    this.flush();
  }

  /**
   * Sends what changed: an update to the views that are up to date, a full snapshot to the stale ones that
   * can take it now. The update is taken before the snapshot, because snapshot() restarts change tracking.
   */
  private flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.lastFlush = Date.now();
    const update = this.model.takeUpdate();
    let updateSeq: number | undefined;
    let snapshot: PanelSnapshot | undefined;
    for (const t of this.targets) {
      if (!t.ready || !t.visible()) {
        t.stale = true;
      } else if (t.stale) {
        const full = (snapshot ??= this.model.snapshot());
        t.stale = false;
        this.post(t, { kind: "snapshot", snapshot: full, seq: ++this.seq });
      } else if (update) {
        updateSeq ??= ++this.seq;
        this.post(t, { kind: "update", update, seq: updateSeq });
      }
    }
  }

  private post(target: PanelTarget, message: HostToWebview): void {
    target.webview.postMessage(message).then(
      (delivered) => {
        if (!delivered) target.stale = true;
      },
      (err) => {
        target.stale = true;
        this.log.warn(`posting to the panel failed: ${String(err)}`);
      },
    );
  }
}
