// The layers are enforced by the compiler, not by convention: each folder's tsconfig.json allows only what
// that layer may use (webview: the DOM; src: Node; common and protocol: neither). A probe file is checked
// against a layer's config the way `npm run typecheck` checks that layer; a cross-layer import must fail.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const ROOT = [resolve(__dirname, "..", ".."), resolve(__dirname, "..", "..", "..")].find((d) => existsSync(join(d, "tsconfig.base.json")))!;
const TSC = join(ROOT, "node_modules", "typescript", "lib", "tsc.js");

/** Type-checks `source` as a file of `layer` (its tsconfig.json); imports name files by absolute path. */
function typecheck(layer: "webview" | "src" | "common" | "protocol", source: string): { ok: boolean; output: string } {
  // Inside the repository (out-tsc/ is ignored by git), so node_modules resolve as they do for the layer.
  mkdirSync(join(ROOT, "out-tsc"), { recursive: true });
  const dir = mkdtempSync(join(ROOT, "out-tsc", "layer-probe-"));
  try {
    writeFileSync(join(dir, "probe.ts"), source);
    writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ extends: join(ROOT, layer, "tsconfig.json"), include: ["probe.ts"], exclude: [] }));
    const r = spawnSync(process.execPath, [TSC, "-p", dir], { encoding: "utf8", timeout: 120_000 });
    return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const file = (path: string) => JSON.stringify(join(ROOT, path));

test("each layer's own kind of code passes its config (the probes below fail for the layer, not the setup)", () => {
  const webview = typecheck("webview", `import { formatBytes } from ${file("common/formatBytes")};\nexport const x = [document.body, formatBytes(1)];\n`);
  assert.ok(webview.ok, webview.output);
  const host = typecheck("src", `import { readFileSync } from "node:fs";\nimport { isRunId } from ${file("protocol/contract")};\nexport const x = [readFileSync, isRunId];\n`);
  assert.ok(host.ok, host.output);
});

test("the webview cannot import Node or host code", () => {
  const node = typecheck("webview", `import { readFileSync } from "node:fs";\nexport const x = readFileSync;\n`);
  assert.ok(!node.ok);
  assert.match(node.output, /error TS2307: Cannot find module 'node:fs'/);
  const host = typecheck("webview", `import { JsonLinesReader } from ${file("src/run/JsonLinesReader")};\nexport const x = JsonLinesReader;\n`);
  assert.ok(!host.ok);
  assert.match(host.output, /src\/run\/JsonLinesReader\.ts.*Cannot find name 'Buffer'/);
});

test("the host cannot import webview code or use the DOM", () => {
  const webview = typecheck("src", `import { TensorCard } from ${file("webview/TensorCard")};\nexport const x = TensorCard;\n`);
  assert.ok(!webview.ok);
  assert.match(webview.output, /webview\/TensorCard\.ts.*Cannot find name '(document|HTMLElement)'/);
  const dom = typecheck("src", "export const x = document.body;\n");
  assert.match(dom.output, /error TS2584: Cannot find name 'document'/);
});

test("common and protocol use neither Node nor the DOM", () => {
  assert.match(typecheck("common", "export const x = process.pid;\n").output, /Cannot find name 'process'/);
  assert.match(typecheck("protocol", "export const x = window.location;\n").output, /Cannot find name 'window'/);
});
