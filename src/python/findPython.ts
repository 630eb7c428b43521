// Which Python runs the trainer (no `vscode` import: the extension passes in what it read from settings and
// from the Python extension). Order: hima.pythonPath -> the Python extension's active interpreter -> the
// workspace .venv -> python3. A workspace can name an executable only when it is trusted.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";

export type PythonSource = "setting" | "python-extension" | "workspace-venv" | "system";

export interface PythonCandidate {
  path: string;
  source: PythonSource;
}

export interface PythonDiscoveryInput {
  /** hima.pythonPath values, most specific first, and whether each came from workspace (folder) settings. */
  configured?: Array<{ value: string; fromWorkspace: boolean }>;
  workspaceTrusted: boolean;
  workspaceDir?: string;
  /** The Python extension's active interpreter, when the extension is installed (may throw or be slow). */
  pythonExtension?: () => Promise<string | undefined>;
  platform?: NodeJS.Platform;
}

export function venvPythonPath(workspaceDir: string, platform: NodeJS.Platform = process.platform): string {
  return platform === "win32" ? join(workspaceDir, ".venv", "Scripts", "python.exe") : join(workspaceDir, ".venv", "bin", "python");
}

/** Expands `~` and `${workspaceFolder}`; a relative path is taken from the workspace folder. */
export function expandPythonPath(value: string, workspaceDir?: string): string {
  let p = value.trim();
  if (p === "~" || p.startsWith("~/")) p = join(homedir(), p.slice(1));
  if (workspaceDir) p = p.replace(/\$\{workspaceFolder\}/g, workspaceDir);
  // A bare command name ("python3.11") is looked up on PATH by spawn; only paths with a separator are resolved.
  if (workspaceDir && !isAbsolute(p) && /[\\/]/.test(p)) p = resolve(workspaceDir, p);
  return p;
}

/** The interpreters to try, best first. The first one is the user's explicit choice when there is one. */
export async function pythonCandidates(input: PythonDiscoveryInput): Promise<PythonCandidate[]> {
  const out: PythonCandidate[] = [];
  const add = (path: string | undefined, source: PythonSource) => {
    if (path && !out.some((c) => c.path === path)) out.push({ path, source });
  };
  // An untrusted workspace must not name the executable we run: its values are skipped, the user's stay.
  const conf = (input.configured ?? []).find((c) => c.value.trim() && (input.workspaceTrusted || !c.fromWorkspace));
  if (conf) add(expandPythonPath(conf.value, input.workspaceDir), "setting");
  if (input.pythonExtension) {
    try {
      add(await input.pythonExtension(), "python-extension");
    } catch {
      // The Python extension is optional; a failing API only removes one candidate.
    }
  }
  if (input.workspaceDir && input.workspaceTrusted) {
    const venv = venvPythonPath(input.workspaceDir, input.platform);
    if (existsSync(venv)) add(venv, "workspace-venv");
  }
  add((input.platform ?? process.platform) === "win32" ? "python" : "python3", "system");
  return out;
}

export type PythonCheck =
  | { ok: true; python: string; versions: string }
  | { ok: false; python: string; problem: "not-found" | "missing-module" | "failed"; detail: string };

const CHECK_SCRIPT = "import sys, torch, hima; print(sys.version.split()[0], 'torch', torch.__version__)";

/** Runs `python -c "import torch, hima"`: can this interpreter run the trainer? */
export function checkPython(python: string, opts: { cwd?: string; timeoutMs?: number } = {}): Promise<PythonCheck> {
  return new Promise((done) => {
    execFile(python, ["-c", CHECK_SCRIPT], { cwd: opts.cwd, timeout: opts.timeoutMs ?? 60_000, windowsHide: true }, (err, stdout, stderr) => {
      if (!err) return done({ ok: true, python, versions: String(stdout).trim() });
      const e = err as NodeJS.ErrnoException & { killed?: boolean };
      if (e.code === "ENOENT" || e.code === "EACCES") return done({ ok: false, python, problem: "not-found", detail: `${python}: ${e.code === "ENOENT" ? "not found" : "not executable"}` });
      const lines = String(stderr).trim().split(/\r?\n/);
      const last = lines[lines.length - 1] ?? "";
      const missing = /ModuleNotFoundError: No module named '([^']+)'/.exec(last);
      if (missing) return done({ ok: false, python, problem: "missing-module", detail: `No module named '${missing[1]}'` });
      done({ ok: false, python, problem: "failed", detail: e.killed ? "timed out importing torch" : last || e.message });
    });
  });
}

/**
 * Picks the interpreter: the explicit setting always wins (its check result is returned as is, so the user
 * learns why it cannot run); otherwise the first candidate that imports torch and hima, else the first
 * candidate's failure (so setup can offer to create .venv).
 */
export async function choosePython(candidates: PythonCandidate[], check: (p: string) => Promise<PythonCheck>): Promise<{ candidate: PythonCandidate; check: PythonCheck }> {
  if (candidates.length === 0) throw new Error("no Python candidates");
  if (candidates[0].source === "setting") return { candidate: candidates[0], check: await check(candidates[0].path) };
  let first: { candidate: PythonCandidate; check: PythonCheck } | undefined;
  for (const candidate of candidates) {
    const result = await check(candidate.path);
    if (result.ok) return { candidate, check: result };
    first ??= { candidate, check: result };
  }
  return first!;
}
