// Loads the real panel bundle (dist/webview.js + dist/webview.css) in headless Chromium, inside the same HTML
// and CSP as the extension (src/views/panelHtml.ts), served from a temp dir by a tiny local HTTP server.
// There is no acquireVsCodeApi in the page, so the panel exposes window.__himaTest: `sent` holds what it
// posted to the "host", and host messages are delivered through the page's ordinary message event.
import { createServer, type Server } from "node:http";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { AddressInfo } from "node:net";
import { chromium, type Browser, type Page } from "playwright-core";
import type { HostToWebview, WebviewToHost } from "../../common/messages";
import { newNonce, panelHtml } from "../../src/views/panelHtml";

export const CHROMIUM = process.env.HIMA_CHROMIUM ?? "/usr/bin/chromium";
export const LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run"];
const CONTENT_TYPES: Record<string, string> = { ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".css": "text/css", ".map": "application/json" };

export interface PanelPage {
  page: Page;
  /** Messages the panel posted to the host so far. */
  sent(): Promise<WebviewToHost[]>;
  /** Delivers a host message to the panel. */
  post(message: HostToWebview): Promise<void>;
  /** Delivers a snapshot/update message and waits until the panel reports it painted. */
  postAndWaitPainted(message: Extract<HostToWebview, { seq: number }>): Promise<void>;
  /** Browser console errors and page errors (CSP violations show up here). */
  errors: string[];
  close(): Promise<void>;
}

export function serve(dir: string): Promise<Server> {
  const server = createServer((req, res) => {
    const name = (req.url ?? "/").split("?")[0].replace(/^\/+/, "") || "index.html";
    if (name === "favicon.ico") {
      res.writeHead(204).end(); // the browser asks for it; a 404 would show up as a console error
      return;
    }
    const file = join(dir, name);
    if (!/^[\w.-]+$/.test(name) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": CONTENT_TYPES[name.slice(name.lastIndexOf("."))] ?? "application/octet-stream" });
    res.end(readFileSync(file));
  });
  return new Promise((ok) => server.listen(0, "127.0.0.1", () => ok(server)));
}

export async function openPanel(opts: { width?: number; height?: number } = {}): Promise<PanelPage> {
  const dist = resolve(__dirname, "..", "..", "dist");
  for (const f of ["webview.js", "webview.css"]) {
    if (!existsSync(join(dist, f))) throw new Error(`${join(dist, f)} is missing: run \`node esbuild.mjs\` first`);
  }
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: install the Debian package \`chromium\` or set HIMA_CHROMIUM`);
  const dir = mkdtempSync(join(tmpdir(), "hima-panel-"));
  copyFileSync(join(dist, "webview.js"), join(dir, "webview.js"));
  copyFileSync(join(dist, "webview.css"), join(dir, "webview.css"));
  const server = await serve(dir);
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  writeFileSync(join(dir, "index.html"), panelHtml({ nonce: newNonce(), cspSource: origin, scriptUri: `${origin}/webview.js`, styleUri: `${origin}/webview.css` }));

  let browser: Browser | null = null;
  const close = async () => {
    await browser?.close().catch(() => undefined);
    await new Promise((ok) => server.close(ok));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: LAUNCH_ARGS });
    const page = await browser.newPage({ viewport: { width: opts.width ?? 460, height: opts.height ?? 1300 }, deviceScaleFactor: 2 });
    const errors: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`${origin}/index.html`);
    await page.waitForFunction(() => window.__himaTest !== undefined && window.__himaTest.sent.length > 0);
    const sent = () => page.evaluate(() => window.__himaTest!.sent.slice());
    // Sent as a JSON string, as VS Code's webview.postMessage does: Playwright's own serialisation of a large
    // object argument takes far longer than the panel's work and would swamp the benchmark's latencies.
    const post = (message: HostToWebview) => page.evaluate((json) => window.__himaTest!.post(JSON.parse(json)), JSON.stringify(message));
    const postAndWaitPainted = async (message: Extract<HostToWebview, { seq: number }>) => {
      await post(message);
      await page.waitForFunction((seq) => window.__himaTest!.sent.some((m) => m.kind === "painted" && m.seq >= seq), message.seq, { timeout: 10_000 });
    };
    return { page, sent, post, postAndWaitPainted, errors, close };
  } catch (e) {
    await close();
    throw e;
  }
}
