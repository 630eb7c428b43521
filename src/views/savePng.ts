// Saves a PNG that a webview rendered (a chart, the tier map, the tier timeline) where the user says: the page
// cannot write files, so it sends a data: URL and the host asks for the place.
import * as vscode from "vscode";

export async function savePng(name: string, dataUrl: string): Promise<void> {
  const base = vscode.workspace.workspaceFolders?.[0]?.uri;
  const uri = await vscode.window.showSaveDialog({
    defaultUri: base ? vscode.Uri.joinPath(base, name) : undefined,
    filters: { PNG: ["png"] },
    title: "Save as PNG",
  });
  if (!uri) return;
  await vscode.workspace.fs.writeFile(uri, Buffer.from(dataUrl.slice(dataUrl.indexOf(",") + 1), "base64"));
  void vscode.window.showInformationMessage(`HiMA: saved ${uri.fsPath}`);
}
