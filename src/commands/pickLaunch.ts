// The two questions before a run: what to train (a preset or a config file in the workspace) and on which
// token files. With hima.defaultPreset / hima.dataFolder set, Enter on the first pick is all it takes.
import { existsSync } from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import type { HimaSettings } from "./settings";

export type LaunchChoice = { preset: string; configFile?: undefined } | { configFile: string; preset?: undefined };

const PRESETS = [
  { preset: "tiny", detail: "CPU demo: a small GPT on a reduced vocabulary, about a minute on 2 cores" },
  { preset: "small", detail: "GPT-2 Small (124M parameters), needs a GPU" },
  { preset: "medium", detail: "GPT-2 Medium (345M parameters), needs a GPU" },
];

const CONFIG_GLOB = "{**/*.hima.json,**/hima.config.json}";
const EXCLUDE_GLOB = "{**/node_modules/**,**/.hima/**,**/.venv/**,**/.git/**}";

type LaunchItem = vscode.QuickPickItem & { choice: LaunchChoice };

function pickOne<T extends vscode.QuickPickItem>(items: T[], active: T | undefined, title: string, placeholder: string): Promise<T | undefined> {
  // createQuickPick (not showQuickPick) so the default can be the active item: Enter accepts it.
  return new Promise((resolve) => {
    const qp = vscode.window.createQuickPick<T>();
    qp.title = title;
    qp.placeholder = placeholder;
    qp.items = items;
    if (active) qp.activeItems = [active];
    let picked: T | undefined;
    qp.onDidAccept(() => {
      picked = qp.selectedItems[0] ?? qp.activeItems[0];
      qp.hide();
    });
    qp.onDidHide(() => {
      qp.dispose();
      resolve(picked);
    });
    qp.show();
  });
}

export async function pickLaunch(settings: HimaSettings, wsDir: string): Promise<LaunchChoice | undefined> {
  const configs = await vscode.workspace.findFiles(CONFIG_GLOB, EXCLUDE_GLOB, 50);
  const configPaths = configs.map((u) => u.fsPath).sort();
  if (settings.defaultConfig && existsSync(settings.defaultConfig) && !configPaths.includes(settings.defaultConfig)) configPaths.unshift(settings.defaultConfig);
  const items: LaunchItem[] = [
    ...PRESETS.map((p) => ({ label: `$(rocket) ${p.preset}`, description: "preset", detail: p.detail, choice: { preset: p.preset } as LaunchChoice })),
    ...configPaths.map((p) => ({ label: `$(file) ${path.relative(wsDir, p) || p}`, description: "config file", choice: { configFile: p } as LaunchChoice })),
  ];
  const active =
    (settings.defaultConfig && items.find((i) => i.choice.configFile === settings.defaultConfig)) ||
    items.find((i) => i.choice.preset === settings.defaultPreset);
  const item = await pickOne(items, active, "HiMA: Start Training", "Preset or run config file");
  return item?.choice;
}

export const PREPARE_BROWN = Symbol("prepare-brown");

export function isTokenFolder(dir: string): boolean {
  return ["train.bin", "val.bin", "meta.json"].every((f) => existsSync(path.join(dir, f)));
}

/**
 * The token-file folder to train on: hima.dataFolder when it holds token files; otherwise a pick among the
 * token folders in the workspace, with "Prepare the Brown corpus now" as an entry (the only one if none exist).
 */
export async function pickDataset(settings: HimaSettings): Promise<string | typeof PREPARE_BROWN | undefined> {
  if (settings.dataFolder) {
    if (isTokenFolder(settings.dataFolder)) return settings.dataFolder;
    const choice = await vscode.window.showWarningMessage(
      `hima.dataFolder (${settings.dataFolder}) has no token files (train.bin, val.bin, meta.json).`,
      "Prepare the Brown Corpus",
      "Choose Another",
    );
    if (choice === "Prepare the Brown Corpus") return PREPARE_BROWN;
    if (choice !== "Choose Another") return undefined;
  }
  const metas = await vscode.workspace.findFiles("**/meta.json", "{**/node_modules/**,**/.git/**,**/.venv/**}", 200);
  const dirs = metas.map((u) => path.dirname(u.fsPath)).filter(isTokenFolder).sort();
  if (dirs.length === 0) {
    const choice = await vscode.window.showInformationMessage("HiMA: no token files in this workspace yet. Prepare the Brown corpus now (about a minute)?", "Prepare the Brown Corpus");
    return choice ? PREPARE_BROWN : undefined;
  }
  type DataItem = vscode.QuickPickItem & { dir: string | typeof PREPARE_BROWN };
  const wsRoot = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? "";
  const items: DataItem[] = [
    ...dirs.map((d) => ({ label: `$(database) ${path.relative(wsRoot, d) || d}`, dir: d as DataItem["dir"] })),
    { label: "$(add) Prepare the Brown corpus now", dir: PREPARE_BROWN },
  ];
  const item = await pickOne(items, items[0], "HiMA: Start Training — dataset", "Token files to train on");
  return item?.dir;
}
