// Reads the `hima.*` settings in one place. hima.pythonPath is a restricted setting: a value from workspace
// settings is ignored while the workspace is untrusted (see findPython), whatever VS Code's own filtering does.
// Runs folders are not executable (only read, and nothing inside a run folder is followed through a link), so
// hima.runsFolders is honoured in an untrusted workspace too: replaying runs is what such a workspace may do.
import * as path from "node:path";
import * as vscode from "vscode";
import { DEFAULT_CUTOFFS } from "../../protocol/protocol.generated";
import { resolveRunsFolders } from "../run/runsFolders";

export interface HimaSettings {
  defaultPreset: string;
  /** Absolute path, or undefined when not set. */
  defaultConfig: string | undefined;
  /** Absolute path, or undefined when not set. */
  dataFolder: string | undefined;
  runsFolder: string;
  maxSteps: number | undefined;
  method: string | undefined;
  device: string | undefined;
  /** Only when the user set them explicitly: otherwise the preset or config file decides. */
  cutoffs: { hot: number; warm: number } | undefined;
  chartMaxPoints: number;
  startTimeoutMs: number;
  /** Training processes per run (hima.processes); launchArgs refuses a bad value with a clear message. */
  processes: number;
  /** hima.distributedStrategy; undefined for the trainer's default (replicated). trainerArgs checks the value. */
  strategy: string | undefined;
}

/** The first workspace folder's path: runs, datasets and .venv live there. */
export function workspaceDir(): string | undefined {
  return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
}

/**
 * The workspace folder a command that runs Python may use, or undefined (after telling the user why) when the
 * workspace is not trusted or no folder is open. `action` completes "HiMA: <action> runs Python in this workspace".
 */
export async function workspaceForPython(action: string): Promise<string | undefined> {
  if (!vscode.workspace.isTrusted) {
    const choice = await vscode.window.showErrorMessage(`HiMA: ${action} runs Python in this workspace; trust the workspace first.`, "Manage Workspace Trust");
    if (choice) await vscode.commands.executeCommand("workbench.trust.manage");
    return undefined;
  }
  const wsDir = workspaceDir();
  if (!wsDir) void vscode.window.showErrorMessage("HiMA: open a folder first; runs are stored in its .hima/runs.");
  return wsDir;
}

/** A setting's path, workspace-relative unless absolute; undefined when empty. */
export function resolvePathSetting(value: string | undefined, base: string | undefined): string | undefined {
  const v = value?.trim();
  if (!v) return undefined;
  if (path.isAbsolute(v) || !base) return v;
  return path.resolve(base, v);
}

function isSetExplicitly(config: vscode.WorkspaceConfiguration, key: string): boolean {
  const i = config.inspect(key);
  return i !== undefined && (i.globalValue !== undefined || i.workspaceValue !== undefined || i.workspaceFolderValue !== undefined);
}

export function readSettings(): HimaSettings {
  const c = vscode.workspace.getConfiguration("hima");
  const base = workspaceDir();
  const maxSteps = c.get<number>("maxSteps", 0);
  const method = c.get<string>("method", "");
  const device = c.get<string>("device", "auto");
  const cutoffsSet = isSetExplicitly(c, "cutoffs.hot") || isSetExplicitly(c, "cutoffs.warm");
  return {
    defaultPreset: c.get<string>("defaultPreset", "tiny"),
    defaultConfig: resolvePathSetting(c.get<string>("defaultConfig"), base),
    dataFolder: resolvePathSetting(c.get<string>("dataFolder"), base),
    runsFolder: resolvePathSetting(c.get<string>("runsFolder"), base) ?? path.resolve(base ?? ".", ".hima/runs"),
    maxSteps: Number.isInteger(maxSteps) && maxSteps > 0 ? maxSteps : undefined,
    method: method || undefined,
    device: device && device !== "auto" ? device : undefined,
    cutoffs: cutoffsSet ? { hot: c.get<number>("cutoffs.hot", DEFAULT_CUTOFFS.hot), warm: c.get<number>("cutoffs.warm", DEFAULT_CUTOFFS.warm) } : undefined,
    chartMaxPoints: Math.max(50, c.get<number>("chart.maxPoints", 1000)),
    startTimeoutMs: Math.max(5, c.get<number>("startTimeoutSeconds", 180)) * 1000,
    processes: c.get<number>("processes", 1),
    strategy: c.get<string>("distributedStrategy", "replicated") || undefined,
  };
}

/**
 * Every runs folder to list (hima.runsFolder first, then hima.runsFolders). Entries that cannot be listed are
 * skipped; why goes to the log and, once for each new set of reasons, to a warning the user sees.
 */
export function listedRunsFolders(log: vscode.LogOutputChannel): string[] {
  const c = vscode.workspace.getConfiguration("hima");
  const { folders, problems } = resolveRunsFolders(readSettings().runsFolder, c.get<unknown>("runsFolders"), workspaceDir());
  const text = problems.join("; ");
  if (text && text !== lastRunsFolderProblems) {
    for (const p of problems) log.warn(`Runs folders: skipping ${p}`);
    void vscode.window.showWarningMessage(`HiMA: ${problems.length === 1 ? "a runs folder is" : `${problems.length} runs folders are`} skipped: ${problems[0]}${problems.length > 1 ? " (see the HiMA output for the others)" : ""}.`, "Open Settings").then((choice) => {
      if (choice) void vscode.commands.executeCommand("workbench.action.openSettings", "hima.runsFolders");
    });
  }
  lastRunsFolderProblems = text;
  return folders;
}
let lastRunsFolderProblems = "";

/** hima.pythonPath values, most specific first, each with where it came from; the trust decision is findPython's. */
export function pythonPathSettings(): Array<{ value: string; fromWorkspace: boolean }> {
  const i = vscode.workspace.getConfiguration("hima").inspect<string>("pythonPath");
  if (!i) return [];
  const values = [
    { value: i.workspaceFolderValue, fromWorkspace: true },
    { value: i.workspaceValue, fromWorkspace: true },
    { value: i.globalValue, fromWorkspace: false },
  ];
  return values.filter((v): v is { value: string; fromWorkspace: boolean } => typeof v.value === "string" && v.value.trim() !== "");
}
