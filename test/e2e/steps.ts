// Runs named steps in order and reports each one. A journey is a story: once a step fails, the later steps
// cannot mean anything, so they are reported as skipped. A failed step keeps a screenshot named after it.
// The tally is written as JSON so run.sh can print one `N passed, N failed` line over every driver.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";

export interface StepResult {
  name: string;
  status: "passed" | "failed" | "skipped";
  ms: number;
  error?: string;
  screenshot?: string;
}

export class StepRunner {
  readonly results: StepResult[] = [];
  private failed = false;
  private index = 0;
  /** Extra facts printed with a failure (e.g. the notifications on screen). */
  diagnose: (() => Promise<string>) | null = null;

  /** @param page current page for failure screenshots (may be set later, e.g. once the browser is up) */
  constructor(
    private readonly suite: string,
    private readonly resultsDir: string,
    public page: Page | null = null,
  ) {
    mkdirSync(resultsDir, { recursive: true });
  }

  get hasFailed(): boolean {
    return this.failed;
  }

  /** Runs one step unless an earlier one failed. `independent` steps run even after a failure. */
  async step<T>(name: string, fn: () => Promise<T>, opts: { independent?: boolean } = {}): Promise<T | undefined> {
    this.index++;
    if (this.failed && !opts.independent) {
      this.results.push({ name, status: "skipped", ms: 0 });
      console.log(`  - SKIP  ${name}`);
      return undefined;
    }
    const t0 = Date.now();
    try {
      const value = await fn();
      const ms = Date.now() - t0;
      this.results.push({ name, status: "passed", ms });
      console.log(`  ✓ PASS  ${name} (${(ms / 1000).toFixed(1)} s)`);
      return value;
    } catch (err) {
      const ms = Date.now() - t0;
      this.failed = true;
      const error = err instanceof Error ? err.message : String(err);
      const screenshot = await this.screenshot(`FAILED-${String(this.index).padStart(2, "0")}-${slug(name)}`);
      const facts = this.diagnose ? await this.diagnose().catch((e) => `(diagnosis failed: ${e})`) : "";
      this.results.push({ name, status: "failed", ms, error, screenshot });
      console.log(`  ✗ FAIL  ${name} (${(ms / 1000).toFixed(1)} s)\n          ${error.split("\n").join("\n          ")}`);
      if (screenshot) console.log(`          screenshot: ${screenshot}`);
      if (facts) console.log(`          ${facts.split("\n").join("\n          ")}`);
      return undefined;
    }
  }

  /** Saves a screenshot of the whole workbench; returns its path, or undefined when there is no page. */
  async screenshot(name: string): Promise<string | undefined> {
    if (!this.page || this.page.isClosed()) return undefined;
    const file = join(this.resultsDir, `${name}.png`);
    try {
      await this.page.screenshot({ path: file, timeout: 10_000 });
      return file;
    } catch {
      return undefined;
    }
  }

  /** Writes <resultsDir>/<suite>.json and returns the counts. */
  finish(): { passed: number; failed: number; skipped: number } {
    const count = (s: StepResult["status"]) => this.results.filter((r) => r.status === s).length;
    const summary = { passed: count("passed"), failed: count("failed"), skipped: count("skipped") };
    writeFileSync(join(this.resultsDir, `${this.suite}.json`), JSON.stringify({ suite: this.suite, ...summary, steps: this.results }, null, 2));
    console.log(`${this.suite}: ${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped`);
    return summary;
  }
}

export function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 60);
}

/** Thrown by a waitUntil probe that knows waiting longer cannot help: the wait fails at once. */
export class GiveUp extends Error {}

/** Polls `probe` until it returns a value (not undefined) or the time is up; the error says what was awaited. */
export async function waitUntil<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs: number, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      if (err instanceof GiveUp) throw new Error(`gave up waiting for ${what}: ${err.message}`);
      lastError = err;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
      throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${why}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}
