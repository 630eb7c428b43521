// The launchers' question before a run folder exists (src/run/configCheck.ts), against small scripts standing in
// for the trainer: exit 0 is fine, exit 2 is a refusal whose reason is the last stderr line, anything else
// (no such program, a crash) is inconclusive, so the launch goes ahead and reports its own failure.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkTrainerConfig, refusalReason } from "../../src/run/configCheck";
import { tempDir } from "../fixtures/runHelpers";

function script(body: string): string {
  const path = join(tempDir("hima-check-"), "python");
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

test("the reason is the trainer's last stderr line, without the logger's prefix (argparse's error line too)", () => {
  assert.equal(refusalReason("some warning\nhima: config file x.hima.json: unknown key(s) lr2\n\n"), "config file x.hima.json: unknown key(s) lr2");
  assert.equal(refusalReason("usage: python -m hima train ...\npython -m hima train: error: argument --preset: invalid choice: 'huge'\n"), "python -m hima train: error: argument --preset: invalid choice: 'huge'");
  assert.match(refusalReason(""), /refused the configuration \(exit code 2\) without saying why/);
});

test("exit 0 is ok and --check was asked; exit 2 is refused; other endings and no program are inconclusive", async () => {
  const dir = tempDir("hima-check-args-");
  const ok = script(`printf '%s\\n' "$@" > ${dir}/argv; exit 0`);
  assert.deepEqual(await checkTrainerConfig({ command: ok, args: ["-m", "hima", "train", "--data", "d"], cwd: dir }), { kind: "ok" });
  assert.deepEqual(readFileSync(join(dir, "argv"), "utf8").trim().split("\n"), ["-m", "hima", "train", "--data", "d", "--check"]);

  const refused = await checkTrainerConfig({ command: script("echo 'hima: unknown preset huge' >&2; exit 2"), args: [], cwd: dir });
  assert.deepEqual(refused, { kind: "refused", problem: "unknown preset huge" });

  const crashed = await checkTrainerConfig({ command: script("echo 'No module named hima' >&2; exit 1"), args: [], cwd: dir });
  assert.equal(crashed.kind, "inconclusive");
  const missing = await checkTrainerConfig({ command: join(dir, "no-such-python"), args: [], cwd: dir });
  assert.equal(missing.kind, "inconclusive");
  assert.match(missing.kind === "inconclusive" ? missing.detail : "", /cannot run .*no-such-python/);
  const slow = await checkTrainerConfig({ command: script("sleep 30"), args: [], cwd: dir }, 200);
  assert.deepEqual(slow, { kind: "inconclusive", detail: "the configuration check took longer than 0.2 s" });
});
