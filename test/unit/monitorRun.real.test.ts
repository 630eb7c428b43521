// A run written by a user's own script (hima.monitor.RunMonitor), found and followed as the extension does it:
// trainer.json says writer "monitor", the process is taken for the run's writer because it holds the run
// folder's trainer.lock open (its command line does not name the folder), the run is listed live, controls
// go through its socket and are acked, Stop ends the loop with done. Skipped, with the reason, when the
// trainer package cannot be imported.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Event } from "../../protocol/protocol.generated";
import { DetachedRun } from "../../src/run/DetachedRun";
import { findLiveRun, findLiveRunIn, findLiveRuns } from "../../src/run/runDiscovery";
import { isTrainerOf, readTrainerRecord } from "../../src/run/TrainerRecord";
import { REPO_ROOT, tempDir } from "../fixtures/runHelpers";
import { sleep, waitFor, waitGone } from "./detachedHelpers";

const python = existsSync(join(REPO_ROOT, ".venv/bin/python")) ? join(REPO_ROOT, ".venv/bin/python") : "python3";
const probe = spawnSync(python, ["-c", "import hima.monitor"], { encoding: "utf8" });
const skip = probe.status === 0 ? false : `hima.monitor cannot be imported by ${python}: ${probe.stderr.trim().split("\n").at(-1)}`;

/** A user's loop: the run folder comes from the environment, so nothing on the command line names it. */
const SCRIPT = `
import os, torch
from torch import nn
from hima import HiMA, HiMAConfig
from hima.monitor import RunMonitor
torch.manual_seed(0)
torch.set_num_threads(1)
model = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 1))
hima = HiMA(model, torch.optim.AdamW(model.parameters(), lr=1e-2), HiMAConfig(layout="tensor", first_retier=2, retier_every=5, probe_every=0))
with RunMonitor(os.environ["OWN_RUN_DIR"], model, hima=hima, max_steps=100000) as monitor:
    for step in range(100000):
        x = torch.randn(16, 8)
        nn.functional.mse_loss(model(x), x[:, :1] * x[:, 1:2]).backward()
        hima.step()
        hima.zero_grad()
        monitor.step(0.0 + step)
        if monitor.should_stop:
            break
`;

test("a user's own loop with RunMonitor: listed live through its lock file, cutoffs acked through its socket, Stop ends it with done", { skip, timeout: 180_000 }, async () => {
  const runsDir = tempDir("hima-own-");
  const runDir = join(runsDir, "own-loop");
  const script = join(tempDir("hima-own-script-"), "train.py");
  writeFileSync(script, SCRIPT);
  const child = spawn(python, [script], { cwd: REPO_ROOT, env: { ...process.env, OWN_RUN_DIR: runDir }, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  let run: DetachedRun | undefined;
  try {
    const end = Date.now() + 120_000;
    let info = await findLiveRun(runsDir, "own-loop");
    while (!info && Date.now() < end && child.exitCode === null) {
      await sleep(100);
      info = await findLiveRun(runsDir, "own-loop");
    }
    assert.ok(info, `the script's run never became live (exit ${child.exitCode}): ${stderr.slice(-800)}`);
    assert.equal(info.record.pid, child.pid);
    assert.equal(info.record.writer, "monitor");
    const cmdline = readFileSync(`/proc/${child.pid}/cmdline`, "utf8").split("\0");
    assert.ok(!cmdline.some((a) => a.includes(runDir)), "the command line does not name the run folder: only the lock file can prove it");
    assert.deepEqual((await findLiveRuns(runsDir)).map((r) => r.id), ["own-loop"]);
    assert.ok(await findLiveRunIn(runDir), "found by the folder alone (HiMA: Open Run Folder…)");

    // The same pid in another run folder's record is not that run's writer: it holds a different lock file.
    const other = join(runsDir, "other");
    mkdirSync(other);
    writeFileSync(join(other, "trainer.lock"), "");
    writeFileSync(join(other, "trainer.json"), JSON.stringify({ pid: child.pid, started: Date.now() / 1000 - 60, writer: "monitor" }));
    assert.equal(isTrainerOf(child.pid!, other, (await readTrainerRecord(other))!.startedMs), false);
    assert.deepEqual((await findLiveRuns(runsDir)).map((r) => r.id), ["own-loop"]);

    run = DetachedRun.attach(info.id, info.dir, info.record, { followPollMs: 50, livenessPollMs: 100 });
    const events: Event[] = [];
    run.onEvent((e) => events.push(e));
    await waitFor(run, (e) => e.type === "tiers" && e.counts.cold.tensors > 0, 60_000, events);
    const id = run.sendControl({ type: "set_cutoffs", hot: 0.5, warm: 0.8 });
    const ack = await waitFor(run, (e) => (e.type === "ack" || e.type === "rejected") && e.id === id, 30_000, events);
    assert.equal(ack.type, "ack", JSON.stringify(ack));
    await waitFor(run, (e) => e.type === "tiers" && Math.abs(e.cutoffs.hot - 0.5) < 1e-9, 30_000, events);

    const exit = await run.stop(60_000);
    assert.equal(exit.crashed, false, exit.stderrTail.join("\n") + stderr.slice(-800));
    const done = events.filter((e) => e.type === "done");
    assert.equal(done.length, 1);
    assert.equal(done[0].type === "done" && done[0].reason, "stopped");
    await waitGone(child.pid!, 30_000);
    assert.equal(await findLiveRun(runsDir, "own-loop"), null, "not live once the script has exited");
  } finally {
    run?.kill();
    child.kill("SIGKILL");
  }
});
