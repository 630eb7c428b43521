// .venv setup: the plan, and what the user is told when a step fails or is cancelled (real child processes).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { venvPythonPath } from "../../src/python/findPython";
import { runSetup, runStep, SetupError, TORCH_REQUIREMENT, venvSetupSteps, type SetupStep } from "../../src/python/setupVenv";

const node = process.execPath;
const nodeStep = (title: string, code: string): SetupStep => ({ title, command: node, args: ["-e", code] });

test("a fresh workspace gets venv, torch, then the bundled trainer; an existing venv with torch only the trainer", () => {
  const ws = mkdtempSync(join(tmpdir(), "hima-ws-"));
  const fresh = venvSetupSteps({ workspaceDir: ws, basePython: "python3", trainerDir: "/ext/trainer", platform: "linux" });
  assert.deepEqual(fresh.map((s) => [s.command, ...s.args]), [
    ["python3", "-m", "venv", ".venv"],
    [venvPythonPath(ws, "linux"), "-m", "pip", "install", TORCH_REQUIREMENT],
    [venvPythonPath(ws, "linux"), "-m", "pip", "install", "/ext/trainer"],
  ]);
  mkdirSync(join(ws, ".venv", "bin"), { recursive: true });
  writeFileSync(venvPythonPath(ws, "linux"), "");
  const again = venvSetupSteps({ workspaceDir: ws, basePython: "python3", trainerDir: "/ext/trainer", torchPresent: true, platform: "linux" });
  assert.deepEqual(again.map((s) => s.args.at(-1)), ["/ext/trainer"]);
});

test("a failing step names its command, its exit and its last output lines; later steps do not run", async () => {
  const dir = mkdtempSync(join(tmpdir(), "hima-setup-"));
  const marker = join(dir, "second-ran");
  const lines: string[] = [];
  const failing = nodeStep("Installing torch", "console.log('Collecting torch==2.13.0'); console.error('ERROR: No matching distribution found for torch==2.13.0'); process.exit(1)");
  const second = nodeStep("Installing the HiMA trainer", `require('fs').writeFileSync(${JSON.stringify(marker)}, 'x')`);
  await assert.rejects(runSetup([failing, second], dir, () => {}, (l) => lines.push(l)), (err: unknown) => {
    assert.ok(err instanceof SetupError);
    assert.equal(err.exit, "exit code 1");
    assert.equal(err.step.title, "Installing torch");
    assert.deepEqual(err.tail, ["Collecting torch==2.13.0", "ERROR: No matching distribution found for torch==2.13.0"]);
    assert.match(err.message, /Installing torch failed \(exit code 1\): .* -e /);
    return true;
  });
  assert.deepEqual(lines, ["Collecting torch==2.13.0", "ERROR: No matching distribution found for torch==2.13.0"]);
  assert.equal(existsSync(marker), false);
});

test("a missing base interpreter is reported, not thrown from a callback", async () => {
  await assert.rejects(runStep({ title: "Creating .venv", command: join(tmpdir(), "no-such-python-xyz"), args: ["-m", "venv", ".venv"] }, tmpdir(), () => {}), (err: unknown) => {
    assert.ok(err instanceof SetupError);
    assert.equal(err.exit, "ENOENT");
    return true;
  });
});

test("cancel kills the running step at once", async () => {
  const abort = new AbortController();
  const started = Date.now();
  const run = runStep(nodeStep("Installing torch", "console.log('Downloading'); setTimeout(() => {}, 60000)"), tmpdir(), () => abort.abort(), abort.signal);
  await assert.rejects(run, (err: unknown) => err instanceof SetupError && err.exit === "cancelled");
  assert.ok(Date.now() - started < 10_000);
});

test("steps that succeed stream every output line, including one without a final newline", async () => {
  const lines: string[] = [];
  const titles: string[] = [];
  await runSetup([nodeStep("One", "console.log('a'); process.stdout.write('b')"), nodeStep("Two", "console.error('c')")], tmpdir(), (s) => titles.push(s.title), (l) => lines.push(l));
  assert.deepEqual(titles, ["One", "Two"]);
  assert.deepEqual(lines, ["a", "b", "c"]);
});
