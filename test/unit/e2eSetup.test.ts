// test/e2e/setup.sh accepts Node 20 or later, as the README promises ("Node 20+"); it used to stop unless
// the major version was exactly 20. A fake `node` on PATH reports each version; --check-node stops the script
// right after the check.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "../fixtures/runHelpers";

function checkNode(major: number): { status: number | null; stderr: string } {
  const bin = mkdtempSync(join(tmpdir(), "hima-node-"));
  writeFileSync(join(bin, "node"), `#!/bin/sh\nif [ "$1" = "-p" ]; then echo ${major}; else echo v${major}.1.0; fi\n`);
  chmodSync(join(bin, "node"), 0o755);
  const r = spawnSync("bash", [join(REPO_ROOT, "test/e2e/setup.sh"), "--check-node"], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` }, encoding: "utf8" });
  return { status: r.status, stderr: r.stderr };
}

test("Node 20, 22 and 24 pass the e2e setup's check; Node 18 is refused, saying what is needed", () => {
  for (const major of [20, 22, 24]) assert.equal(checkNode(major).status, 0, `Node ${major}: ${checkNode(major).stderr}`);
  const old = checkNode(18);
  assert.equal(old.status, 1);
  assert.match(old.stderr, /need Node 20 or later, found v18\.1\.0/);
});
