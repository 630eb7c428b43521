// Finds a Python that can run the trainer, and when there is none offers to create the workspace .venv with
// torch and the trainer bundled in the extension. Returns the interpreter path, or undefined when the user
// declined or setup failed (after saying what failed).
import * as path from "node:path";
import * as vscode from "vscode";
import { checkPython, choosePython, pythonCandidates, venvPythonPath, type PythonCheck } from "../python/findPython";
import { runSetup, SetupError, venvSetupSteps } from "../python/setupVenv";
import { pythonPathSettings } from "./settings";

/** Successful checks are remembered for the session: importing torch takes seconds. */
const verified = new Set<string>();

export function forgetVerifiedPythons(): void {
  verified.clear();
}

async function cachedCheck(python: string, cwd: string): Promise<PythonCheck> {
  if (verified.has(python)) return { ok: true, python, versions: "(checked earlier)" };
  const result = await checkPython(python, { cwd });
  if (result.ok) verified.add(python);
  return result;
}

/** The Python extension's active interpreter through its public API; undefined when it is not installed. */
async function pythonExtensionInterpreter(resource: vscode.Uri | undefined): Promise<string | undefined> {
  const ext = vscode.extensions.getExtension("ms-python.python");
  if (!ext) return undefined;
  const api = (ext.isActive ? ext.exports : await ext.activate()) as
    | { environments?: { getActiveEnvironmentPath(r?: vscode.Uri): { path: string }; resolveEnvironment?(p: { path: string } | string): Promise<{ executable?: { uri?: vscode.Uri } } | undefined> } }
    | undefined;
  const envs = api?.environments;
  if (!envs) return undefined;
  const active = envs.getActiveEnvironmentPath(resource);
  // `path` may be an environment folder; the resolved environment names its executable.
  const resolved = await envs.resolveEnvironment?.(active).catch(() => undefined);
  return resolved?.executable?.uri?.fsPath ?? active.path;
}

export async function ensurePython(workspaceDir: string, extensionPath: string, log: vscode.LogOutputChannel): Promise<string | undefined> {
  const trusted = vscode.workspace.isTrusted;
  const candidates = await pythonCandidates({
    configured: pythonPathSettings(),
    workspaceTrusted: trusted,
    workspaceDir,
    pythonExtension: () => pythonExtensionInterpreter(vscode.workspace.workspaceFolders?.[0]?.uri),
  });
  log.info(`Python candidates: ${candidates.map((c) => `${c.path} (${c.source})`).join(", ")}`);
  const chosen = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Window, title: "HiMA: checking Python (torch, hima)" },
    () => choosePython(candidates, (p) => cachedCheck(p, workspaceDir)),
  );
  if (chosen.check.ok) {
    log.info(`Using Python ${chosen.candidate.path} (${chosen.candidate.source}): ${chosen.check.versions}`);
    return chosen.candidate.path;
  }
  const problem = chosen.check.detail;
  log.warn(`Python ${chosen.candidate.path} (${chosen.candidate.source}) cannot run the trainer: ${problem}`);

  const setupAction = "Create .venv and Install";
  const actions = trusted ? [setupAction, "Open Settings"] : ["Open Settings"];
  const where = chosen.candidate.source === "setting" ? "hima.pythonPath" : chosen.candidate.source;
  const choice = await vscode.window.showErrorMessage(
    `HiMA needs Python with torch and the hima trainer. ${chosen.candidate.path} (${where}): ${problem}.` +
      (trusted ? " HiMA can create .venv in this workspace and install torch and the bundled trainer." : ""),
    ...actions,
  );
  if (choice === "Open Settings") {
    await vscode.commands.executeCommand("workbench.action.openSettings", "hima.pythonPath");
    return undefined;
  }
  if (choice !== setupAction) return undefined;
  return setUpVenv(workspaceDir, extensionPath, chosen.check.problem === "not-found" ? "python3" : chosen.candidate.path, log);
}

async function setUpVenv(workspaceDir: string, extensionPath: string, basePython: string, log: vscode.LogOutputChannel): Promise<string | undefined> {
  const venvPython = venvPythonPath(workspaceDir);
  const existing = await checkPython(venvPython, { cwd: workspaceDir });
  const torchPresent = existing.ok || (existing.problem === "missing-module" && !existing.detail.includes("'torch'"));
  if (existing.ok) return venvPython;
  const steps = venvSetupSteps({ workspaceDir, basePython, trainerDir: path.join(extensionPath, "trainer"), torchPresent });
  try {
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: "HiMA: setting up .venv", cancellable: true },
      async (progress, token) => {
        const abort = new AbortController();
        token.onCancellationRequested(() => abort.abort());
        let title = "";
        await runSetup(
          steps,
          workspaceDir,
          (step, i) => {
            title = `${step.title} (${i + 1}/${steps.length})`;
            log.info(`$ ${[step.command, ...step.args].join(" ")}`);
            progress.report({ message: title });
          },
          (line) => {
            log.info(line);
            progress.report({ message: `${title}: ${line.slice(0, 120)}` });
          },
          abort.signal,
        );
      },
    );
  } catch (err) {
    log.error(err instanceof Error ? err.message : String(err));
    if (err instanceof SetupError && err.exit === "cancelled") return undefined;
    if (err instanceof SetupError) {
      const choice = await vscode.window.showErrorMessage(
        `HiMA: ${err.step.title} failed (${err.exit}). Command: ${[err.step.command, ...err.step.args].join(" ")}` +
          (err.tail.length ? `\n${err.tail.slice(-6).join("\n")}` : ""),
        "Show Output",
      );
      if (choice === "Show Output") log.show();
      return undefined;
    }
    throw err;
  }
  forgetVerifiedPythons();
  const after = await checkPython(venvPython, { cwd: workspaceDir });
  if (!after.ok) {
    void vscode.window.showErrorMessage(`HiMA: .venv was set up but still cannot run the trainer: ${after.detail}`);
    return undefined;
  }
  verified.add(venvPython);
  void vscode.window.showInformationMessage(`HiMA: .venv is ready (${after.versions}).`);
  return venvPython;
}
