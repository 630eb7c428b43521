// Hosts the tier panel: the sidebar webview view and, on request, the same page in an editor tab. Both show
// the one RunModel that is current (the live run or a replay); PanelBroadcaster decides who gets a snapshot
// and who an update. This file is the `vscode` side: HTML, options, visibility and incoming messages.
import * as vscode from "vscode";
import { parseWebviewMessage, type WebviewToHost } from "../../common/messages";
import { RunModel } from "../run/RunModel";
import { PanelBroadcaster, type PanelSink } from "./PanelBroadcaster";
import { newNonce, panelHtml } from "./panelHtml";

export const PANEL_VIEW_ID = "hima.panel";
const EDITOR_PANEL_TYPE = "hima.panelEditor";

export type PanelMessageHandler = (message: Exclude<WebviewToHost, { kind: "ready" } | { kind: "painted" }>) => unknown;

export class PanelHost implements vscode.WebviewViewProvider, vscode.Disposable {
  private readonly broadcaster: PanelBroadcaster;
  private model: RunModel = new RunModel();
  private editorPanel: vscode.WebviewPanel | undefined;
  private readonly painted = new vscode.EventEmitter<number>();
  /** Fires with the `seq` of each message the panel reports as painted (benchmarks and tests). */
  readonly onDidPaint = this.painted.event;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly log: vscode.LogOutputChannel,
    private readonly onMessage: PanelMessageHandler,
  ) {
    this.broadcaster = new PanelBroadcaster(this.model, (err) => this.log.warn(`posting to the panel failed: ${String(err)}`));
  }

  /** Makes `model` the one the panel shows and sends every webview a fresh snapshot. */
  show(model: RunModel): void {
    this.model = model;
    this.broadcaster.setModel(model);
  }

  get current(): RunModel {
    return this.model;
  }

  /** Call after the model changed; the change reaches the webviews within the update interval. */
  scheduleUpdate(): void {
    this.broadcaster.scheduleUpdate();
  }

  notice(level: "info" | "error", text: string): void {
    this.broadcaster.notice(level, text);
  }

  /** Reveals the editor tab when one is open, else the sidebar view (creating it if needed). */
  async reveal(): Promise<void> {
    if (this.editorPanel) this.editorPanel.reveal(undefined, true);
    else await vscode.commands.executeCommand(`${PANEL_VIEW_ID}.focus`);
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    const sink = this.attach(view.webview, () => view.visible);
    view.onDidChangeVisibility(() => this.broadcaster.visibilityChanged(sink));
    view.onDidDispose(() => this.broadcaster.remove(sink));
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
    const sink = this.attach(panel.webview, () => panel.visible);
    panel.onDidChangeViewState(() => this.broadcaster.visibilityChanged(sink));
    panel.onDidDispose(() => {
      this.broadcaster.remove(sink);
      this.editorPanel = undefined;
    });
  }

  dispose(): void {
    this.editorPanel?.dispose();
    this.broadcaster.dispose();
    this.painted.dispose();
  }

  private resourceRoots(): vscode.Uri[] {
    return [vscode.Uri.joinPath(this.extensionUri, "dist"), vscode.Uri.joinPath(this.extensionUri, "media")];
  }

  private attach(webview: vscode.Webview, visible: () => boolean): PanelSink {
    webview.options = { enableScripts: true, enableCommandUris: false, localResourceRoots: this.resourceRoots() };
    webview.html = panelHtml({
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, "dist", "webview.js")).toString(),
      styleUri: webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, "dist", "webview.css")).toString(),
      cspSource: webview.cspSource,
      nonce: newNonce(),
    });
    const sink: PanelSink = { post: (m) => webview.postMessage(m), visible };
    this.broadcaster.add(sink);
    webview.onDidReceiveMessage((raw) => this.receive(sink, raw));
    return sink;
  }

  private receive(sink: PanelSink, raw: unknown): void {
    const message = parseWebviewMessage(raw);
    if (typeof message === "string") {
      this.log.warn(`panel message dropped: ${message}`);
      return;
    }
    if (message.kind === "ready") {
      this.broadcaster.ready(sink);
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
}
