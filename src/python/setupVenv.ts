// Creates the workspace .venv and installs torch and the trainer bundled with the extension (no `vscode`
// import). Every step is a child process without a shell; its output lines stream to the caller (progress
// notification) and a failure names the command and its last output lines.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { venvPythonPath } from "./findPython";

export const TORCH_REQUIREMENT = "torch==2.13.0";

export interface SetupStep {
  /** Shown in the progress notification, e.g. "Installing torch". */
  title: string;
  command: string;
  args: string[];
}

export class SetupError extends Error {
  constructor(readonly step: SetupStep, readonly exit: string, readonly tail: string[]) {
    super(`${step.title} failed (${exit}): ${[step.command, ...step.args].join(" ")}${tail.length ? "\n" + tail.join("\n") : ""}`);
    this.name = "SetupError";
  }
}

export interface VenvPlanInput {
  workspaceDir: string;
  /** Interpreter that creates the venv (python3 or the user's choice). */
  basePython: string;
  /** The trainer package folder shipped inside the extension. */
  trainerDir: string;
  /** Whether the venv's python already imports torch (skip the big download). */
  torchPresent?: boolean;
  platform?: NodeJS.Platform;
}

/** The steps to get a .venv that runs the trainer; an existing .venv is reused. */
export function venvSetupSteps(input: VenvPlanInput): SetupStep[] {
  const py = venvPythonPath(input.workspaceDir, input.platform);
  const steps: SetupStep[] = [];
  if (!existsSync(py)) steps.push({ title: "Creating .venv", command: input.basePython, args: ["-m", "venv", ".venv"] });
  if (!input.torchPresent) steps.push({ title: "Installing torch (large download)", command: py, args: ["-m", "pip", "install", TORCH_REQUIREMENT] });
  steps.push({ title: "Installing the HiMA trainer", command: py, args: ["-m", "pip", "install", input.trainerDir] });
  return steps;
}

const TAIL_LINES = 20;

/** Runs one step in `cwd`; resolves when it exits 0, rejects with a SetupError otherwise. */
export function runStep(step: SetupStep, cwd: string, onLine: (line: string) => void, signal?: AbortSignal): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const tail: string[] = [];
    const env = { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: "1", PIP_NO_INPUT: "1", PYTHONUNBUFFERED: "1" };
    const child = spawn(step.command, step.args, { cwd, env, stdio: ["ignore", "pipe", "pipe"], windowsHide: true });
    const onAbort = () => child.kill();
    signal?.addEventListener("abort", onAbort, { once: true });
    let partial = "";
    const take = (chunk: Buffer) => {
      const lines = (partial + chunk.toString("utf8")).split(/\r?\n|\r/);
      partial = lines.pop() ?? "";
      for (const line of lines) {
        if (!line.trim()) continue;
        tail.push(line);
        if (tail.length > TAIL_LINES) tail.shift();
        onLine(line);
      }
    };
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    child.on("error", (err) => {
      signal?.removeEventListener("abort", onAbort);
      reject(new SetupError(step, (err as NodeJS.ErrnoException).code ?? err.message, tail));
    });
    child.on("close", (code, sig) => {
      signal?.removeEventListener("abort", onAbort);
      if (partial.trim()) {
        tail.push(partial);
        onLine(partial);
      }
      if (signal?.aborted) reject(new SetupError(step, "cancelled", tail.slice(-TAIL_LINES)));
      else if (code === 0) resolvePromise();
      else reject(new SetupError(step, sig ? `signal ${sig}` : `exit code ${code}`, tail.slice(-TAIL_LINES)));
    });
  });
}

/** Runs the steps in order, stopping at the first failure (thrown as SetupError). */
export async function runSetup(steps: SetupStep[], cwd: string, onStep: (step: SetupStep, index: number) => void, onLine: (line: string) => void, signal?: AbortSignal): Promise<void> {
  for (const [i, step] of steps.entries()) {
    if (signal?.aborted) throw new SetupError(step, "cancelled", []);
    onStep(step, i);
    await runStep(step, cwd, onLine, signal);
  }
}
