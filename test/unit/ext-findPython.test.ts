// Which Python runs the trainer: the order of candidates, workspace trust, and the import check that decides
// whether setup is offered (with fake interpreters: small executable scripts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkPython, choosePython, expandPythonPath, pythonCandidates, venvPythonPath, type PythonCheck } from "../../src/python/findPython";

const posix = process.platform !== "win32";

function workspace(withVenv: boolean): string {
  const dir = mkdtempSync(join(tmpdir(), "hima-ws-"));
  if (withVenv) {
    mkdirSync(join(dir, ".venv", "bin"), { recursive: true });
    writeFileSync(venvPythonPath(dir), "");
  }
  return dir;
}

function fakePython(dir: string, name: string, script: string): string {
  const p = join(dir, name);
  writeFileSync(p, `#!/bin/sh\n${script}\n`);
  chmodSync(p, 0o755);
  return p;
}

test("order: setting, Python extension, workspace .venv, python3 (no duplicates)", async () => {
  const ws = workspace(true);
  const c = await pythonCandidates({
    configured: [{ value: "/opt/py/bin/python", fromWorkspace: false }],
    workspaceTrusted: true,
    workspaceDir: ws,
    pythonExtension: async () => venvPythonPath(ws),
    platform: "linux",
  });
  assert.deepEqual(c, [
    { path: "/opt/py/bin/python", source: "setting" },
    { path: venvPythonPath(ws, "linux"), source: "python-extension" },
    { path: "python3", source: "system" },
  ]);
});

test("an untrusted workspace cannot choose the executable: its setting and its .venv are skipped, the user's setting is kept", async () => {
  const ws = workspace(true);
  const fromWorkspace = { value: "${workspaceFolder}/evil.sh", fromWorkspace: true };
  const untrusted = await pythonCandidates({ configured: [fromWorkspace], workspaceTrusted: false, workspaceDir: ws, platform: "linux" });
  assert.deepEqual(untrusted, [{ path: "python3", source: "system" }]);

  const withUser = await pythonCandidates({
    configured: [fromWorkspace, { value: "/usr/bin/python3.11", fromWorkspace: false }],
    workspaceTrusted: false,
    workspaceDir: ws,
    platform: "linux",
  });
  assert.equal(withUser[0].path, "/usr/bin/python3.11");
  assert.ok(!withUser.some((c) => c.path.includes("evil") || c.source === "workspace-venv"));

  const trusted = await pythonCandidates({ configured: [fromWorkspace], workspaceTrusted: true, workspaceDir: ws, platform: "linux" });
  assert.equal(trusted[0].path, join(ws, "evil.sh"));
  assert.ok(trusted.some((c) => c.source === "workspace-venv"));
});

test("a failing or absent Python extension only removes its candidate", async () => {
  const c = await pythonCandidates({ workspaceTrusted: true, workspaceDir: workspace(false), pythonExtension: async () => { throw new Error("not activated"); }, platform: "linux" });
  assert.deepEqual(c, [{ path: "python3", source: "system" }]);
});

test("paths: ${workspaceFolder}, relative paths from the workspace, bare command names left for PATH", () => {
  assert.equal(expandPythonPath("${workspaceFolder}/.venv/bin/python", "/w"), "/w/.venv/bin/python");
  assert.equal(expandPythonPath("env/bin/python", "/w"), "/w/env/bin/python");
  assert.equal(expandPythonPath("python3.11", "/w"), "python3.11");
  assert.equal(venvPythonPath("/w", "win32").endsWith(join(".venv", "Scripts", "python.exe")), true);
});

test("the import check tells apart: ready, missing module, not found", { skip: !posix && "needs sh" }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "hima-py-"));
  const good = fakePython(dir, "good", 'echo "3.11.2 torch 2.13.0"');
  const noTorch = fakePython(dir, "notorch", `echo 'Traceback (most recent call last):' >&2; echo "ModuleNotFoundError: No module named 'torch'" >&2; exit 1`);
  const broken = fakePython(dir, "broken", "echo 'Segmentation fault' >&2; exit 139");
  assert.deepEqual(await checkPython(good), { ok: true, python: good, versions: "3.11.2 torch 2.13.0" });
  assert.deepEqual(await checkPython(noTorch), { ok: false, python: noTorch, problem: "missing-module", detail: "No module named 'torch'" });
  const b = await checkPython(broken);
  assert.equal(b.ok, false);
  assert.equal(!b.ok && b.problem, "failed");
  assert.equal(!b.ok && b.detail, "Segmentation fault");
  const missing = await checkPython(join(dir, "nope"));
  assert.equal(!missing.ok && missing.problem, "not-found");
});

test("choosePython: an explicit setting is used as is; otherwise the first interpreter that imports torch and hima", async () => {
  const results: Record<string, PythonCheck> = {
    a: { ok: false, python: "a", problem: "missing-module", detail: "No module named 'hima'" },
    b: { ok: true, python: "b", versions: "3.11" },
  };
  const check = async (p: string) => results[p];
  const auto = await choosePython([{ path: "a", source: "python-extension" }, { path: "b", source: "system" }], check);
  assert.equal(auto.candidate.path, "b");
  const explicit = await choosePython([{ path: "a", source: "setting" }, { path: "b", source: "system" }], check);
  assert.equal(explicit.candidate.path, "a");
  assert.equal(explicit.check.ok, false);
  const none = await choosePython([{ path: "a", source: "python-extension" }], check);
  assert.equal(none.candidate.path, "a", "the first failure is reported, so setup can be offered");
});
