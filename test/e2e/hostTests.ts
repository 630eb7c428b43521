// Runs the extension-host integration tests (host/index.ts) inside the real VS Code: the workbench is opened
// with a `payload` naming extensionDevelopmentPath (this repository, built) and extensionTestsPath; the page
// reports the end through window.codeAutomationExit and the console through window.codeAutomationLog.
// Two sessions: a trusted workspace (commands, settings, a crashing trainer, a configuration the trainer refuses,
// run alerts) and an untrusted one (trust on).
//   node dist-test/e2e/hostTests.js   (environment: see e2eEnv.ts; run.sh sets it)
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { startCodeServer } from "./codeServer";
import { makeWorkspace, readE2eEnv, type E2eEnv } from "./e2eEnv";
import type { HostTestConfig } from "./host/index";
import { assert, StepRunner, waitUntil } from "./steps";
import { launchBrowser, newWorkbenchPage, notifications, sideBarWebview, waitForNotification } from "./workbench";

const FAILING_LINE = "e2e-fake-trainer: simulated failure 4711 (CUDA out of memory)";
const HOST_TIMEOUT_MS = 300_000;

interface SessionOutcome {
  exitCode: number;
  log: string[];
  results: Array<{ name: string; ok: boolean; error?: string }>;
  page: Page;
  /** Stops this session's code-server. */
  stop(): Promise<void>;
}

/** Writes an executable shell script (the fake interpreters stand in for hima.pythonPath). */
function script(path: string, body: string): string {
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

/** Checks made on screen while the in-host tests wait (they print "E2E-HOST AWAIT-UI <name>"). */
type UiChecks = Record<string, (page: Page) => Promise<void>>;

async function hostSession(env: E2eEnv, browser: Browser, steps: StepRunner, name: string, ws: string, cfg: HostTestConfig, trust: boolean, uiChecks: UiChecks = {}): Promise<SessionOutcome> {
  writeFileSync(join(ws, "e2e-host.json"), JSON.stringify(cfg, null, 2));
  const stateDir = join(env.workDir, `${name}-state`);
  const server = await startCodeServer({
    entry: env.codeServerEntry,
    stateDir,
    // Empty: the extension under test comes from extensionDevelopmentPath, never from an installed copy.
    extensionsDir: join(stateDir, "extensions"),
    pidFile: env.pidFile,
    workspaceTrust: trust,
    userSettings: { "hima.device": "cpu", "hima.startTimeoutSeconds": 240 },
  });
  const page = await newWorkbenchPage(browser);
  steps.page = page;
  const log: string[] = [];
  let exit!: (code: number) => void;
  const exited = new Promise<number>((resolve) => (exit = resolve));
  await page.exposeFunction("codeAutomationLog", (type: string, args: unknown[]) => {
    const line = (Array.isArray(args) ? args : [args]).map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" ");
    log.push(line);
    if (line.includes("E2E-HOST")) console.log(`    [host ${type}] ${line}`);
    const wanted = /E2E-HOST AWAIT-UI (\S+)/.exec(line)?.[1];
    if (wanted) {
      const checks = uiChecks[wanted] ?? (async () => {});
      // Whatever the checks find, release the waiting host test so the session ends.
      void checks(page).finally(() => writeFileSync(join(ws, `e2e-ui-${wanted}.done`), ""));
    }
  });
  await page.exposeFunction("codeAutomationExit", (code: number) => exit(code));
  const payload: Array<[string, string]> = [
    ["extensionDevelopmentPath", server.remoteUri(env.repo)],
    ["extensionTestsPath", server.remoteUri(join(env.repo, "dist-test", "e2e", "host", "index.js"))],
    ["skipWelcome", "true"],
  ];
  try {
    await page.goto(server.folderUrl(ws, payload));
    const timeout = new Promise<number>((_, reject) => setTimeout(() => reject(new Error(`the extension-host tests did not finish within ${HOST_TIMEOUT_MS / 1000} s`)), HOST_TIMEOUT_MS));
    const exitCode = await Promise.race([exited, timeout]);
    const resultsFile = join(ws, "e2e-host-results.json");
    const results = existsSync(resultsFile) ? JSON.parse(readFileSync(resultsFile, "utf8")) : [];
    return { exitCode, log, results, page, stop: server.stop };
  } catch (err) {
    await server.stop();
    throw err;
  }
}

/** Reports each in-host test as a step of its own. */
async function reportHostResults(steps: StepRunner, outcome: SessionOutcome, expected: number): Promise<void> {
  for (const r of outcome.results) {
    await steps.step(`[extension host] ${r.name}`, async () => assert(r.ok, r.error ?? "failed"), { independent: true });
  }
  if (outcome.results.length < expected) {
    await steps.step(`[extension host] ${expected} tests ran (exit code ${outcome.exitCode})`, async () => {
      throw new Error(`only ${outcome.results.length} results; last host log lines:\n${outcome.log.slice(-15).join("\n")}`);
    }, { independent: true });
  }
}

async function main(): Promise<number> {
  const env = readE2eEnv();
  const steps = new StepRunner("host", env.resultsDir);
  const browser = await launchBrowser();
  try {
    // Trusted workspace: commands, settings, and a trainer that fails.
    const ws = makeWorkspace(env, "host-ws");
    mkdirSync(join(ws, ".vscode"), { recursive: true });
    writeFileSync(join(ws, ".vscode", "settings.json"), JSON.stringify({ "hima.dataFolder": "data/tokens", "hima.defaultPreset": "tiny" }, null, 2));
    const failingPython = script(
      join(env.workDir, "failing-python.sh"),
      `# Answers the extension's "python -c <check>" like the real interpreter; as a trainer it fails.\n` +
        `if [ "$1" = "-c" ]; then exec "${env.python}" "$@"; fi\n` +
        `echo "e2e-fake-trainer: loading the model" >&2\necho "${FAILING_LINE}" >&2\nexit 1`,
    );
    const refusedMarker = join(env.workDir, "refusing-python-checked");
    const refusalReason = "config file e2e.hima.json: unknown key(s) learning_rate";
    const refusingPython = script(
      join(env.workDir, "refusing-python.sh"),
      `# Like python for "python -c"; its --check refuses the configuration; as a trainer it fails.\n` +
        `if [ "$1" = "-c" ]; then exec "${env.python}" "$@"; fi\n` +
        `for a in "$@"; do if [ "$a" = "--check" ]; then touch "${refusedMarker}"; echo "hima: ${refusalReason}" >&2; exit 2; fi; done\n` +
        `echo "e2e: the trainer started after its check refused" >&2\nexit 1`,
    );
    // The scripted fake trainer: 20 falling losses, a NaN (reported as hima.monitor does, and the run goes on),
    // then a loss that runs away from its smoothed value.
    const losses = [...Array.from({ length: 20 }, (_, i) => (4 - i * 0.1).toFixed(2)), "nan", "3", "2.1", "9", "9.5", "10"];
    const alertPython = script(
      join(env.workDir, "alert-python.sh"),
      `if [ "$1" = "-c" ]; then exec "${env.python}" "$@"; fi\n` +
        `FAKE_STEP_MS=100 FAKE_LOSSES=${losses.join(",")} exec "${process.execPath}" "${join(env.repo, "test", "fixtures", "fake-trainer.mjs")}" "$@"`,
    );
    const crashChecks: UiChecks = {
      refused: async (page) => {
        await steps.step("the refusal is an error notification with the trainer's reason", async () => {
          const text = await waitForNotification(page, new RegExp(refusalReason.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")), 30_000);
          assert(/no run was started/.test(text), `the notification does not say that no run started: ${text}`);
        }, { independent: true });
      },
      alerts: async (page) => {
        await steps.step("a NaN loss and a diverging loss are one notification each; Show opens the panel", async () => {
          await waitForNotification(page, /loss became NaN at step 21/, 30_000);
          const divergence = await waitForNotification(page, /far above its smoothed value/, 30_000);
          assert(/step 26/.test(divergence), `the divergence alert names the step: ${divergence}`);
          const shown = await notifications(page);
          assert(shown.filter((t) => /loss became NaN/.test(t)).length === 1 && shown.filter((t) => /far above/.test(t)).length === 1, `one notification per alert: ${shown.join(" | ")}`);
          await steps.screenshot("host-alerts");
          // The host test closed the side bar (no editor shows a webview now), so the one webview on screen after
          // Show is the panel; its re-created iframe lacks the purpose=webviewView that sideBarWebview looks for.
          const shownPanel = "iframe.webview.ready:visible";
          assert(await page.locator(shownPanel).count() === 0, "the panel is still on screen before Show");
          const item = page.locator(".notification-toast .notification-list-item", { hasText: "far above its smoothed value" });
          await item.getByRole("button", { name: "Show" }).click();
          await page.frameLocator(shownPanel).frameLocator("#active-frame").locator(".run-title").waitFor({ state: "visible", timeout: 30_000 });
        }, { independent: true });
      },

      crash: async (page) => {
        await steps.step("the crash notification shows the trainer's stderr tail", async () => {
          const text = await waitUntil("an error notification with the stderr tail", async () => {
            const shown = await notifications(page);
            return shown.find((t) => t.includes(FAILING_LINE)) ?? undefined;
          }, 30_000);
          assert(/crash|exit code 1/i.test(text), `the notification does not say the trainer crashed: ${text}`);
        }, { independent: true });
        await steps.step("the side panel shows the crashed run with its stderr tail", async () => {
          const panel = sideBarWebview(page);
          await panel.locator('.run-title[data-status="crashed"]').waitFor({ state: "visible", timeout: 30_000 });
          const tail = await panel.locator("pre.error-tail").innerText({ timeout: 5000 });
          assert(tail.includes(FAILING_LINE), `the panel's error box does not show the stderr tail: ${tail}`);
          await steps.screenshot("e2e-05-crash-reported");
        }, { independent: true });
      },
    };
    const trusted = await steps.step("extension-host tests run in a trusted workspace", () =>
      hostSession(env, browser, steps, "host-trusted", ws, { suite: "trusted", failingPython, failingLine: FAILING_LINE, refusingPython, refusedMarker, refusalReason, alertPython }, false, crashChecks),
    );
    if (trusted) {
      await reportHostResults(steps, trusted, 4);
      await steps.screenshot("host-trusted-end");
      await trusted.stop();
      await trusted.page.context().close();
    }

    // Untrusted workspace: a workspace-configured interpreter must never run.
    const uws = makeWorkspace(env, "untrusted-ws");
    const markerFile = join(env.workDir, "untrusted-python-ran");
    const markerPython = script(join(uws, "evil-python.sh"), `touch "${markerFile}"\nexec "${env.python}" "$@"`);
    mkdirSync(join(uws, ".vscode"), { recursive: true });
    writeFileSync(join(uws, ".vscode", "settings.json"), JSON.stringify({ "hima.pythonPath": markerPython, "hima.dataFolder": "data/tokens" }, null, 2));
    const untrusted = await steps.step("extension-host tests run in an untrusted workspace (workspace trust on)", () =>
      hostSession(env, browser, steps, "host-untrusted", uws, { suite: "untrusted", markerFile, markerPython }, true),
      { independent: true },
    );
    if (untrusted) {
      await reportHostResults(steps, untrusted, 1);
      await steps.screenshot("host-untrusted-end");
      await untrusted.stop();
    }
  } finally {
    await browser.close().catch(() => {});
  }
  return steps.finish().failed;
}

main().then(
  (failed) => process.exit(failed > 0 ? 1 : 0),
  (err) => {
    console.error(`host tests crashed: ${err instanceof Error ? err.stack : err}`);
    process.exit(2);
  },
);
