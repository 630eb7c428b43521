// The real Python trainer, detached: the extension's launch (no pipes), controls through its Unix socket,
// stop, then HiMA: Resume Run's command continuing from the checkpoint in the same folder, with the log
// replayed first. Skipped, with the reason, when the trainer cannot be imported.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Event } from "../../protocol/protocol.generated";
import { DetachedRun } from "../../src/run/DetachedRun";
import { applyLiveEvent } from "../../src/run/liveModel";
import { RunModel } from "../../src/run/RunModel";
import { resumeLaunch } from "../../src/run/resumeLaunch";
import { findLiveRun } from "../../src/run/runDiscovery";
import { trainerArgs } from "../../src/run/trainerCommand";
import { REPO_ROOT, tempDir, writeSyntheticTokens } from "../fixtures/runHelpers";
import { waitFor } from "./detachedHelpers";

const python = existsSync(join(REPO_ROOT, ".venv/bin/python")) ? join(REPO_ROOT, ".venv/bin/python") : "python3";
const probe = spawnSync(python, ["-m", "hima", "train", "--help"], { encoding: "utf8" });
const skip = probe.status === 0 && probe.stdout.includes("--control-socket") ? false : `the real trainer with --control-socket is not available (${python} -m hima train --help)`;

test("real trainer, detached: set_cutoffs through the socket, stop, then resume in the same folder continues from the checkpoint", { skip, timeout: 240_000 }, async () => {
  const dataDir = writeSyntheticTokens(tempDir());
  const runsDir = tempDir();
  const runDir = join(runsDir, "real-1");
  const env = { ...process.env, HIMA_THREADS: "1" };
  const first = DetachedRun.launch({ command: python, args: trainerArgs({ preset: "tiny", dataDir, outDir: runDir, runId: "real-1", maxSteps: 5000, device: "cpu" }), cwd: REPO_ROOT, env, runId: "real-1", runDir });
  const events: Event[] = [];
  first.onEvent((e) => events.push(e));
  let second: DetachedRun | null = null;
  try {
    await waitFor(first, (e) => e.type === "step" && e.step >= 2, 120_000, events);
    assert.ok(await findLiveRun(runsDir, "real-1"), "trainer.json names a live trainer of this folder");
    const id = first.sendControl({ type: "set_cutoffs", hot: 0.2, warm: 0.5 });
    await waitFor(first, (e) => e.type === "ack" && e.id === id, 30_000, events);
    const exit = await first.stop(60_000);
    assert.equal(exit.crashed, false, exit.stderrTail.join("\n"));
    const stoppedAt = [...events].reverse().find((e) => e.type === "done")!.step;

    const launch = await resumeLaunch(runsDir, "real-1", python, REPO_ROOT, env);
    second = DetachedRun.launch(launch);
    const model = new RunModel();
    model.setStatus("starting");
    second.onEvent((e, replayed) => applyLiveEvent(model, e, replayed));
    const hello = await waitFor(second, (e, replayed) => e.type === "hello" && !replayed, 120_000);
    assert.equal(hello.type === "hello" && hello.start_step, stoppedAt, "the resume point is the stop's checkpoint");
    await waitFor(second, (e) => e.type === "step" && e.step > stoppedAt, 60_000);
    assert.equal(model.snapshot().run?.status, "running");
    const exit2 = await second.stop(60_000);
    assert.equal(exit2.crashed, false, exit2.stderrTail.join("\n"));
  } finally {
    first.kill();
    second?.kill();
  }
});
