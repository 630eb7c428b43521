// Drives the VS Code workbench in headless Chromium the way a user does: the Command Palette, quick picks,
// notifications, and the webviews (which sit two iframes deep).
import { chromium, type Browser, type FrameLocator, type Page } from "playwright-core";

export const CHROMIUM = process.env.HIMA_CHROMIUM ?? "/usr/bin/chromium";

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-quic",
      "--no-first-run",
    ],
  });
}

export async function newWorkbenchPage(browser: Browser): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, deviceScaleFactor: 1 });
  return context.newPage();
}

/** Opens the workbench and waits until it is usable (the activity bar is drawn). */
export async function openWorkbench(page: Page, url: string, timeoutMs = 90_000): Promise<void> {
  await page.goto(url, { timeout: timeoutMs });
  await page.locator(".monaco-workbench").waitFor({ state: "visible", timeout: timeoutMs });
  await page.locator(".activitybar").first().waitFor({ state: "visible", timeout: timeoutMs });
}

/** F1, type the command title, run it. Fails clearly when the command is not in the palette. */
export async function runCommand(page: Page, title: string, timeoutMs = 30_000): Promise<void> {
  const input = page.locator(".quick-input-widget input.input");
  const row = page.locator(".quick-input-list .monaco-list-row", { hasText: title }).first();
  const deadline = Date.now() + timeoutMs;
  let shown: string[] = [];
  // The palette lists the commands known when it opens; right after startup an extension's contributions may
  // still be on their way, so reopen it until the command shows up.
  for (;;) {
    await page.keyboard.press("Escape");
    await page.keyboard.press("F1");
    await input.waitFor({ state: "visible", timeout: 10_000 });
    await input.fill(`>${title}`);
    try {
      await row.waitFor({ state: "visible", timeout: 2_000 });
      break;
    } catch {
      shown = await page.locator(".quick-input-list .monaco-list-row").allInnerTexts().catch(() => []);
      if (Date.now() > deadline) {
        await page.keyboard.press("Escape");
        throw new Error(`command "${title}" is not in the Command Palette (palette shows: ${shown.slice(0, 5).join(" | ") || "nothing"})`);
      }
    }
  }
  // Exact label match: "HiMA: Start Training" must not pick a longer title that merely contains it.
  const exact = page.locator(".quick-input-list .monaco-list-row").filter({ has: page.locator(".label-name", { hasText: new RegExp(`^\\s*${escapeRegExp(title)}\\s*$`) }) }).first();
  if (await exact.count()) await exact.click();
  else await page.keyboard.press("Enter");
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Waits for a quick pick / input box opened by a command and returns its visible items. */
export async function quickPickItems(page: Page, timeoutMs = 30_000): Promise<string[]> {
  const widget = page.locator(".quick-input-widget");
  await widget.waitFor({ state: "visible", timeout: timeoutMs });
  await page.waitForTimeout(300);
  return page.locator(".quick-input-list .monaco-list-row").allInnerTexts();
}

/** Texts of the notification toasts currently shown. */
export async function notifications(page: Page): Promise<string[]> {
  return page.locator(".notification-toast .notification-list-item").allInnerTexts();
}

/** Waits until a notification whose text matches appears; returns its text. */
export async function waitForNotification(page: Page, pattern: RegExp, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const texts = await notifications(page);
    const hit = texts.find((t) => pattern.test(t));
    if (hit) return hit;
    if (Date.now() > deadline) {
      throw new Error(`no notification matching ${pattern} within ${timeoutMs} ms (shown: ${texts.join(" | ") || "none"})`);
    }
    await page.waitForTimeout(250);
  }
}

/** The content frame of the side-bar webview view (iframe.webview -> #active-frame). */
export function sideBarWebview(page: Page): FrameLocator {
  return page.frameLocator('iframe.webview.ready[src*="purpose=webviewView"]').frameLocator("#active-frame");
}

/** The content frame of a webview in an editor tab. */
export function editorWebview(page: Page): FrameLocator {
  return page.frameLocator('iframe.webview.ready:not([src*="purpose=webviewView"])').frameLocator("#active-frame");
}

/** Drags the side bar's edge so the panel has room (the screenshots show the tier map and charts readably). */
export async function widenSideBar(page: Page, width: number): Promise<void> {
  const box = await page.locator(".part.sidebar").boundingBox();
  if (!box) throw new Error("the side bar is not visible");
  const y = box.y + box.height / 2;
  await page.mouse.move(box.x + box.width - 1, y);
  await page.mouse.down();
  await page.mouse.move(box.x + width, y, { steps: 8 });
  await page.mouse.up();
}

/** What a failed step reports besides its screenshot: the panel's run title and the notifications shown. */
export async function describeWorkbench(page: Page): Promise<string> {
  const shown = await notifications(page);
  const title = await sideBarWebview(page).locator(".run-title").innerText({ timeout: 1000 }).catch(() => "(no run title)");
  return `panel: ${title.replace(/\s+/g, " ")}\nnotifications: ${shown.map((t) => t.replace(/\s+/g, " ")).join(" | ") || "none"}`;
}

/** Errors thrown in the workbench page go to the test log (first line). */
export function logPageErrors(page: Page): void {
  page.on("pageerror", (err) => console.log(`  [page error] ${err.message.split("\n")[0]}`));
}

/**
 * Types `path` into VS Code's own file dialog (open or save: a quick input holding a path). The dialog first
 * fills the box with its starting folder (and file name); typing before that lands races with it (seen on a
 * loaded machine: the typed path got the dialog's folder put in front of it), so this waits until the box's
 * value has settled, then fills it and checks that it holds exactly `path`.
 */
export async function typeIntoFileDialog(page: Page, path: string, timeoutMs = 20_000): Promise<void> {
  const input = page.locator(".quick-input-widget input.input");
  await input.waitFor({ state: "visible", timeout: timeoutMs });
  const deadline = Date.now() + timeoutMs;
  let last = "";
  for (;;) {
    const value = await input.inputValue();
    if (value !== "" && value === last) break;
    if (Date.now() > deadline) throw new Error(`the file dialog never showed its starting path (it holds "${value}")`);
    last = value;
    await page.waitForTimeout(250);
  }
  for (let attempt = 0; ; attempt++) {
    await input.fill(path);
    await page.waitForTimeout(250);
    const value = await input.inputValue();
    if (value === path) return;
    if (attempt === 2) throw new Error(`the file dialog holds "${value}" after typing "${path}"`);
  }
}
