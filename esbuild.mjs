// Builds the separate bundles: extension host (Node/CJS), the headless CLI (Node/CJS),
// the panel webview (browser/IIFE) and the TypeScript tests (Node/CJS, one file per test).
// `node esbuild.mjs --watch` rebuilds on change.
import * as esbuild from "esbuild";
import { readdirSync, statSync, existsSync } from "node:fs";
import { join } from "node:path";

const watch = process.argv.includes("--watch");
const production = process.argv.includes("--production");

function testEntries(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return testEntries(p);
    return /\.(test|bench)\.ts$/.test(f) ? [p] : [];
  });
}

const common = { bundle: true, sourcemap: !production, minify: production, logLevel: "warning", target: "es2022" };

const builds = [
  { ...common, entryPoints: { extension: "src/extension.ts" }, outdir: "dist", platform: "node", format: "cjs", external: ["vscode"] },
  { ...common, entryPoints: { cli: "src/cli/main.ts" }, outdir: "dist", platform: "node", format: "cjs" },
  { ...common, entryPoints: { webview: "webview/main.ts" }, outdir: "dist", platform: "browser", format: "iife", loader: { ".css": "css" } },
];
const tests = testEntries("test");
if (tests.length) {
  builds.push({
    ...common,
    entryPoints: tests,
    outdir: "dist-test",
    outbase: "test",
    platform: "node",
    format: "cjs",
    external: ["vscode", "playwright-core", "esbuild"],
  });
}

const present = builds.filter((b) => Object.values(b.entryPoints).every((e) => existsSync(e)));
if (watch) {
  for (const b of present) (await esbuild.context(b)).watch();
} else {
  await Promise.all(present.map((b) => esbuild.build(b)));
}
