// Loads the Runs view bundle (dist/runs.js + dist/runs.css) in headless Chromium inside the extension's HTML
// and CSP, as panelPage.ts does for the tier panel. The view exposes window.__himaRunsTest outside VS Code.
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { AddressInfo } from "node:net";
import { chromium, type Browser, type Page } from "playwright-core";
import type { RunsHostToView, RunsViewToHost } from "../../common/runsMessages";
import { newNonce, panelHtml } from "../../src/views/panelHtml";
import { CHROMIUM, LAUNCH_ARGS, serve } from "./panelPage";

export interface RunsPage {
  page: Page;
  sent(): Promise<RunsViewToHost[]>;
  post(message: RunsHostToView): Promise<void>;
  /** Delivers a message with a seq and waits until the view reports it painted. */
  postAndWaitPainted(message: Extract<RunsHostToView, { seq: number }>): Promise<void>;
  errors: string[];
  close(): Promise<void>;
}

export async function openRunsView(opts: { width?: number; height?: number; bodyClass?: string; cssVars?: Record<string, string> } = {}): Promise<RunsPage> {
  const dist = resolve(__dirname, "..", "..", "dist");
  for (const f of ["runs.js", "runs.css"]) {
    if (!existsSync(join(dist, f))) throw new Error(`${join(dist, f)} is missing: run \`node esbuild.mjs\` first`);
  }
  const dir = mkdtempSync(join(tmpdir(), "hima-runs-"));
  copyFileSync(join(dist, "runs.js"), join(dir, "runs.js"));
  copyFileSync(join(dist, "runs.css"), join(dir, "runs.css"));
  const server = await serve(dir);
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  writeFileSync(join(dir, "index.html"), panelHtml({ nonce: newNonce(), cspSource: origin, scriptUri: `${origin}/runs.js`, styleUri: `${origin}/runs.css`, title: "HiMA Runs" }));
  let browser: Browser | null = null;
  const close = async () => {
    await browser?.close().catch(() => undefined);
    await new Promise((ok) => server.close(ok));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: LAUNCH_ARGS });
    const page = await browser.newPage({ viewport: { width: opts.width ?? 1100, height: opts.height ?? 1400 }, deviceScaleFactor: 1 });
    const errors: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`${origin}/index.html`);
    await page.waitForFunction(() => window.__himaRunsTest !== undefined && window.__himaRunsTest.sent.length > 0);
    const sent = () => page.evaluate(() => window.__himaRunsTest!.sent.slice());
    const post = (message: RunsHostToView) => page.evaluate((json) => window.__himaRunsTest!.post(JSON.parse(json)), JSON.stringify(message));
    const postAndWaitPainted = async (message: Extract<RunsHostToView, { seq: number }>) => {
      await post(message);
      await page.waitForFunction((seq) => window.__himaRunsTest!.sent.some((m) => m.kind === "painted" && m.seq >= seq), message.seq, { timeout: 10_000 });
    };
    return { page, sent, post, postAndWaitPainted, errors, close };
  } catch (e) {
    await close();
    throw e;
  }
}
