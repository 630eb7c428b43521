// What the e2e drivers get from run.sh (environment variables), checked once, plus the fresh workspace each
// driver opens in VS Code.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";

export interface E2eEnv {
  repo: string;
  /** code-server's out/node/entry.js */
  codeServerEntry: string;
  vsix: string;
  /** Interpreter with torch and hima installed. */
  python: string;
  /** Scratch folder for workspaces and code-server state (deleted and recreated per driver). */
  workDir: string;
  resultsDir: string;
  pidFile: string | undefined;
  /** Where to copy the journey screenshots for the README (only when asked: it changes tracked files). */
  docsImagesDir: string | undefined;
}

function required(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run the e2e tests with: npm run test:e2e)`);
  return v;
}

export function readE2eEnv(): E2eEnv {
  const repo = resolve(process.env.HIMA_E2E_REPO ?? process.cwd());
  const env: E2eEnv = {
    repo,
    codeServerEntry: required("HIMA_E2E_CODE_SERVER"),
    vsix: process.env.HIMA_E2E_VSIX ?? "",
    python: process.env.HIMA_E2E_PYTHON ?? "python3",
    workDir: required("HIMA_E2E_WORK"),
    resultsDir: resolve(process.env.HIMA_E2E_RESULTS ?? join(repo, "test-results", "e2e")),
    pidFile: process.env.HIMA_E2E_PIDFILE || undefined,
    docsImagesDir: process.env.HIMA_E2E_DOCS_IMAGES || undefined,
  };
  if (!existsSync(env.codeServerEntry)) throw new Error(`code-server not found at ${env.codeServerEntry}: run test/e2e/setup.sh`);
  return env;
}

/** A fresh workspace folder with a small token set in data/tokens (see fixtures/makeTokens.mjs). */
export function makeWorkspace(env: E2eEnv, name: string): string {
  const ws = join(env.workDir, name);
  rmSync(ws, { recursive: true, force: true });
  mkdirSync(ws, { recursive: true });
  const r = spawnSync(process.execPath, [join(env.repo, "test", "e2e", "fixtures", "makeTokens.mjs"), join(ws, "data", "tokens")], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`making the token fixture failed: ${r.stderr}`);
  return ws;
}
