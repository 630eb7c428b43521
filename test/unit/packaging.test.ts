// The .vsix carries the whole trainer package: the extension pip-installs it into .venv from there, so a
// module that .vscodeignore leaves out (a new subpackage) only shows up as an ImportError on a user's machine.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join, relative, resolve } from "node:path";

const ROOT = [resolve(__dirname, "..", ".."), resolve(__dirname, "..", "..", "..")].find((d) => existsSync(join(d, ".vscodeignore")))!;
const VSCE = join(ROOT, "node_modules", "@vscode", "vsce", "vsce");

function pythonFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === "__pycache__" ? [] : pythonFiles(p);
    return e.name.endsWith(".py") || e.name.endsWith(".json") ? [relative(ROOT, p)] : [];
  });
}

test("every trainer module and the schema copy are in the packaged extension", { skip: existsSync(VSCE) ? false : "vsce is not installed" }, () => {
  const r = spawnSync(process.execPath, [VSCE, "ls", "--no-dependencies"], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const packaged = new Set(r.stdout.split("\n").map((l) => l.trim()));
  const missing = pythonFiles(join(ROOT, "trainer", "hima")).filter((f) => !packaged.has(f));
  assert.deepEqual(missing, []);
  assert.ok(packaged.has("trainer/hima/app/cli.py") && packaged.has("trainer/pyproject.toml"));
});
