// What every command needs from the extension: the log, the panel, and the one live run.
import type * as vscode from "vscode";
import type { LiveRun } from "../LiveRun";
import type { PanelHost } from "../views/PanelHost";

export interface HimaServices {
  readonly extensionContext: vscode.ExtensionContext;
  readonly log: vscode.LogOutputChannel;
  readonly panel: PanelHost;
  liveRun(): LiveRun | undefined;
  setLiveRun(run: LiveRun | undefined): void;
}
