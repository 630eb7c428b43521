// Extension-host integration tests: VS Code loads this module through `extensionTestsPath` (the extension
// itself comes from `extensionDevelopmentPath`) and calls run() inside the real Node extension host.
// The driver (hostTests.ts) writes <workspace>/e2e-host.json to say which suite to run with which files;
// results go to <workspace>/e2e-host-results.json and to the console (forwarded to the driver).
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as vscode from "vscode";
import { BASELINE, HIMA, writeHandRun } from "../../fixtures/compareRuns";

export const EXTENSION_ID = "hima-dev.hima";

export interface HostTestConfig {
  suite: "trusted" | "untrusted";
  /** A fake interpreter: answers the "python -c" check like python, then fails as a trainer (trusted suite). */
  failingPython?: string;
  /** The stderr line the failing trainer prints, which the user must get to see. */
  failingLine?: string;
  /** A script that leaves this file behind when it is ever executed (untrusted suite). */
  markerFile?: string;
  markerPython?: string;
  /** A fake interpreter whose `--check` refuses the configuration (and leaves refusedMarker); as a trainer it fails. */
  refusingPython?: string;
  refusedMarker?: string;
  /** The reason it gives, which the user must get to see. */
  refusalReason?: string;
  /** A fake interpreter that runs the scripted fake trainer with a NaN, then a run-away loss. */
  alertPython?: string;
}

interface Result {
  name: string;
  ok: boolean;
  error?: string;
  ms: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    await sleep(250);
  }
}

/** Runs a command that may open quick picks, accepting the preselected item of each, without awaiting it
 *  (a command that ends in a notification with buttons only returns once the user answers). */
async function runAcceptingDefaults(command: string, picks: number): Promise<void> {
  void vscode.commands.executeCommand(command);
  for (let i = 0; i < picks; i++) {
    await sleep(1500);
    await vscode.commands.executeCommand("workbench.action.acceptSelectedQuickOpenItem");
  }
}

/** Asks the driver to check the screen now (it watches the console) and waits until it says it is done. */
async function awaitUiCheck(name: string): Promise<void> {
  const done = join(workspaceRoot(), `e2e-ui-${name}.done`);
  console.log(`E2E-HOST AWAIT-UI ${name}`);
  await until(`the driver's UI check "${name}"`, () => (existsSync(done) ? true : undefined), 180_000);
}

function workspaceRoot(): string {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder) throw new Error("the host tests need an open workspace folder");
  return folder.uri.fsPath;
}

async function activeExtension(): Promise<vscode.Extension<unknown>> {
  const ext = vscode.extensions.getExtension(EXTENSION_ID);
  check(ext, `extension ${EXTENSION_ID} is not loaded (extensionDevelopmentPath wrong?)`);
  await ext.activate();
  return ext;
}

function trustedSuite(cfg: HostTestConfig): Array<[string, () => Promise<void>]> {
  const ws = workspaceRoot();
  const runsDir = join(ws, "custom-runs");
  return [
    [
      "every command in the manifest is registered (HiMA: Start/Stop Training, Show Tier Panel, Set Cutoffs, Open Run, Prepare Dataset)",
      async () => {
        const ext = await activeExtension();
        const declared = ((ext.packageJSON as { contributes?: { commands?: Array<{ command: string }> } }).contributes?.commands ?? []).map((c) => c.command);
        for (const id of ["hima.startTraining", "hima.stopTraining", "hima.showPanel", "hima.setCutoffs", "hima.openRun", "hima.prepareDataset"]) {
          check(declared.includes(id), `${id} is not declared in package.json contributes.commands`);
        }
        const registered = new Set(await vscode.commands.getCommands(true));
        const missing = declared.filter((id) => !registered.has(id));
        check(missing.length === 0, `declared but not registered after activation: ${missing.join(", ")}`);
      },
    ],
    [
      "HiMA: Export Runs writes CSV, TensorBoard event files and a Markdown comparison of recorded runs; HiMA: Show Runs opens the Runs view",
      async () => {
        await activeExtension();
        const hima = vscode.workspace.getConfiguration("hima");
        await hima.update("runsFolder", "export-runs", vscode.ConfigurationTarget.Workspace);
        const runs = join(ws, "export-runs");
        writeHandRun(runs, BASELINE);
        writeHandRun(runs, HIMA);
        const ids = [BASELINE.id, HIMA.id];
        const out = join(ws, "exports");
        const csv = await vscode.commands.executeCommand<string[]>("hima.exportRuns", { format: "csv", ids, out: join(out, "csv") });
        check(csv?.length === 2, `CSV export wrote ${JSON.stringify(csv)}`);
        const header = readFileSync(join(out, "csv", `${HIMA.id}.csv`), "utf8").split("\n")[0];
        check(header.startsWith("step,wall_s,loss,val_loss"), `CSV header: ${header}`);
        const tb = await vscode.commands.executeCommand<string[]>("hima.exportRuns", { format: "tensorboard", ids, out: join(out, "tb") });
        check(tb?.length === 2 && tb.every((f) => /events\.out\.tfevents\.\d+\.hima\./.test(f) && existsSync(f)), `TensorBoard export wrote ${JSON.stringify(tb)}`);
        const md = await vscode.commands.executeCommand<string[]>("hima.exportRuns", { format: "markdown", ids, baseline: BASELINE.id, out: join(out, "report.md") });
        check(md?.length === 1, `Markdown export wrote ${JSON.stringify(md)}`);
        const report = readFileSync(join(out, "report.md"), "utf8");
        check(/\| hima-50 \| hima \| 100 \| 2\.400 \| -0\.100 \| 2\.00× \| 5\.0 s \| 40\.0% \| 50\.0% \|/.test(report), `report row for hima-50 missing:\n${report}`);
        await vscode.commands.executeCommand("hima.showRuns");
        await until("a HiMA Runs tab", () => (vscode.window.tabGroups.all.some((g) => g.tabs.some((t) => t.label === "HiMA Runs")) ? true : undefined), 20_000);
        await vscode.commands.executeCommand("workbench.action.closeActiveEditor");
        await hima.update("runsFolder", undefined, vscode.ConfigurationTarget.Workspace);
      },
    ],
    [
      "a trainer that exits with an error is reported with its stderr tail, and the launch honours the hima.* settings",
      async () => {
        check(cfg.failingPython && cfg.failingLine, "e2e-host.json lacks failingPython/failingLine");
        const hima = vscode.workspace.getConfiguration("hima");
        await hima.update("pythonPath", cfg.failingPython, vscode.ConfigurationTarget.Global);
        await hima.update("runsFolder", "custom-runs", vscode.ConfigurationTarget.Workspace);
        await hima.update("maxSteps", 7, vscode.ConfigurationTarget.Workspace);
        await runAcceptingDefaults("hima.startTraining", 1);
        const runId = await until("a run folder under hima.runsFolder (custom-runs)", () => (existsSync(runsDir) ? readdirSync(runsDir)[0] : undefined), 60_000);
        const runDir = join(runsDir, runId);
        const stderrLog = join(runDir, "stderr.log");
        await until(`stderr.log with "${cfg.failingLine}"`, () => (existsSync(stderrLog) && readFileSync(stderrLog, "utf8").includes(cfg.failingLine!) ? true : undefined), 60_000);
        const config = JSON.parse(readFileSync(join(runDir, "config.json"), "utf8")) as { command?: string; args?: string[] };
        check(config.command === cfg.failingPython, `config.json command is ${config.command}, not hima.pythonPath (${cfg.failingPython})`);
        const args = config.args ?? [];
        const flag = (f: string) => args[args.indexOf(f) + 1];
        check(args.includes("--preset") && flag("--preset") === "tiny", `launched without --preset tiny (hima.defaultPreset): ${args.join(" ")}`);
        check(flag("--max-steps") === "7", `launched without --max-steps 7 (hima.maxSteps): ${args.join(" ")}`);
        // What the user sees (the notification, the panel's crash report) is checked from the browser by the
        // driver, while this extension host is still alive to show it.
        await awaitUiCheck("crash");
      },
    ],
    [
      "a configuration the trainer refuses (its --check) is an error message, and no run folder is made",
      async () => {
        check(cfg.refusingPython && cfg.refusedMarker, "e2e-host.json lacks refusingPython/refusedMarker");
        const hima = vscode.workspace.getConfiguration("hima");
        await hima.update("pythonPath", cfg.refusingPython, vscode.ConfigurationTarget.Global);
        await hima.update("runsFolder", "refused-runs", vscode.ConfigurationTarget.Workspace);
        await runAcceptingDefaults("hima.startTraining", 1);
        await until("the trainer's --check", () => (existsSync(cfg.refusedMarker!) ? true : undefined), 60_000);
        await sleep(3000);
        const runs = join(ws, "refused-runs");
        check(!existsSync(runs), `a run folder was made after the refusal: ${existsSync(runs) ? readdirSync(runs).join(", ") : ""}`);
        await awaitUiCheck("refused");
      },
    ],
    [
      "alerts: a NaN loss and a diverging loss are notifications (once each) whose Show opens the panel",
      async () => {
        check(cfg.alertPython, "e2e-host.json lacks alertPython");
        const hima = vscode.workspace.getConfiguration("hima");
        await hima.update("pythonPath", cfg.alertPython, vscode.ConfigurationTarget.Global);
        await hima.update("runsFolder", "alert-runs", vscode.ConfigurationTarget.Workspace);
        await hima.update("maxSteps", 300, vscode.ConfigurationTarget.Workspace);
        await runAcceptingDefaults("hima.startTraining", 1);
        const runs = join(ws, "alert-runs");
        const runId = await until("a run folder under alert-runs", () => (existsSync(runs) ? readdirSync(runs)[0] : undefined), 60_000);
        const log = join(runs, runId, "events.jsonl");
        const steps = () => readFileSync(log, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as { type: string; step?: number });
        await until("step 30 in events.jsonl", () => (existsSync(log) && steps().some((e) => e.type === "step" && (e.step ?? 0) >= 30) ? true : undefined), 120_000);
        // The panel out of sight, so that the driver sees the notification's Show bring it back.
        await vscode.commands.executeCommand("workbench.action.closeSidebar");
        await awaitUiCheck("alerts");
        await until("the run's done", () => (steps().some((e) => e.type === "done") ? true : undefined), 120_000);
        await hima.update("maxSteps", undefined, vscode.ConfigurationTarget.Workspace);
        await hima.update("runsFolder", undefined, vscode.ConfigurationTarget.Workspace);
      },
    ],
  ];
}

function untrustedSuite(cfg: HostTestConfig): Array<[string, () => Promise<void>]> {
  const ws = workspaceRoot();
  return [
    [
      "an untrusted workspace cannot run a workspace-configured hima.pythonPath",
      async () => {
        check(cfg.markerFile && cfg.markerPython, "e2e-host.json lacks markerFile/markerPython");
        check(vscode.workspace.isTrusted === false, "the workspace is trusted: the test setup did not enable workspace trust");
        await activeExtension();
        const settingsFile = readFileSync(join(ws, ".vscode", "settings.json"), "utf8");
        check(settingsFile.includes(cfg.markerPython), "the workspace settings do not name the marker interpreter (test setup)");
        // VS Code must not hand a restricted workspace value to the extension (package.json restrictedConfigurations).
        const effective = vscode.workspace.getConfiguration("hima").get<string>("pythonPath");
        check(effective !== cfg.markerPython, "VS Code hands out the workspace hima.pythonPath in an untrusted workspace: it is not declared restricted");
        await runAcceptingDefaults("hima.startTraining", 2);
        await sleep(8000);
        check(!existsSync(cfg.markerFile), `the workspace-configured interpreter ${cfg.markerPython} was executed`);
        const runs = join(ws, ".hima", "runs");
        const started = existsSync(runs) ? readdirSync(runs) : [];
        check(started.length === 0, `a run was started in an untrusted workspace: ${started.join(", ")}`);
      },
    ],
  ];
}

export async function run(): Promise<void> {
  const ws = workspaceRoot();
  const cfg = JSON.parse(readFileSync(join(ws, "e2e-host.json"), "utf8")) as HostTestConfig;
  const tests = cfg.suite === "trusted" ? trustedSuite(cfg) : untrustedSuite(cfg);
  const results: Result[] = [];
  for (const [name, fn] of tests) {
    const t0 = Date.now();
    try {
      await fn();
      results.push({ name, ok: true, ms: Date.now() - t0 });
      console.log(`E2E-HOST PASS ${name}`);
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      results.push({ name, ok: false, error, ms: Date.now() - t0 });
      console.log(`E2E-HOST FAIL ${name}: ${error}`);
    }
  }
  writeFileSync(join(ws, "e2e-host-results.json"), JSON.stringify(results, null, 2));
  const failed = results.filter((r) => !r.ok).length;
  if (failed) throw new Error(`${failed} extension-host test(s) failed`);
}
