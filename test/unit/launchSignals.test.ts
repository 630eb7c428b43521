// Stop signals for a launch through torchrun, with a stand-in for torch's agent (below) around the fake
// trainer: the graceful SIGTERM must reach rank 0's trainer (named by trainer.json), not the agent, which
// would exit non-zero; SIGKILL must take the agent and every rank, each in a session of its own.
// The same launch under the real torchrun is in launchSignals.real.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Event } from "../../protocol/protocol.generated";
import { DetachedRun } from "../../src/run/DetachedRun";
import { RunManager } from "../../src/run/RunManager";
import { gracefulStopPid } from "../../src/run/launchSignals";
import { FAKE_TRAINER, REPO_ROOT, tempDir } from "../fixtures/runHelpers";
import { waitFor } from "./detachedHelpers";
import { allGone, rank0Pid, within } from "./launchHelpers";

// What torch's elastic agent does with a worker: starts it in a new session, exits with its exit code, and
// on SIGTERM/SIGINT sends SIGTERM to the worker's group, waits for it and exits 1 (SignalException) however
// cleanly the worker stopped.
const FAKE_LAUNCHER = `
import { spawn } from "node:child_process";
const [command, ...args] = process.argv.slice(2);
const rank = spawn(command, args, { stdio: "inherit", detached: true });
let signalled = false;
for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, () => {
    signalled = true;
    process.stderr.write("fake launcher: got " + sig + "\\n");
    try { process.kill(-rank.pid, "SIGTERM"); } catch {}
  });
}
rank.on("exit", (code) => process.exit(signalled ? 1 : code ?? 1));
`;

function launcherScript(): string {
  const file = join(tempDir("hima-launcher-"), "fake-launcher.mjs");
  writeFileSync(file, FAKE_LAUNCHER);
  return file;
}

/** The fake trainer as the one rank of the fake launcher: [command, ...args] for a launch. */
function launchCommand(runDir: string, extra: string[] = []): { command: string; args: string[] } {
  return { command: process.execPath, args: [launcherScript(), process.execPath, FAKE_TRAINER, "--out", runDir, "--run-id", "run-1", "--max-steps", "100000", ...extra] };
}

function launchDetached(env: Record<string, string>): { run: DetachedRun; runDir: string; events: Event[] } {
  const runDir = join(tempDir("hima-sig-"), "run-1");
  const run = DetachedRun.launch(
    { ...launchCommand(runDir), cwd: REPO_ROOT, env: { ...process.env, FAKE_STEP_MS: "20", ...env }, runId: "run-1", runDir },
    { followPollMs: 50, livenessPollMs: 100, termGraceMs: 500 },
  );
  const events: Event[] = [];
  run.onEvent((e) => events.push(e));
  return { run, runDir, events };
}

const onLinux = process.platform === "linux" ? false : "needs /proc to tell a launcher's children";

test("gracefulStopPid: rank 0 when trainer.json names a child of the launcher that is this run's trainer, else the launcher", { skip: onLinux }, async () => {
  const { run, runDir, events } = launchDetached({});
  const launcher = run.trainerPid!;
  let rank0 = 0;
  try {
    await waitFor(run, (e) => e.type === "step", 10_000, events);
    rank0 = await rank0Pid(runDir);
    assert.notEqual(rank0, launcher);
    assert.equal(gracefulStopPid(launcher, runDir), rank0, "the launcher's rank 0");

    assert.equal(gracefulStopPid(process.pid, runDir), process.pid, "a live trainer of this folder that another launcher started is not ours to signal");
    const otherDir = tempDir("hima-sig-other-");
    copyFileSync(join(runDir, "trainer.json"), join(otherDir, "trainer.json"));
    assert.equal(gracefulStopPid(launcher, otherDir), launcher, "the launcher's child, but the record is in a folder it does not train");
    assert.equal(gracefulStopPid(launcher, tempDir("hima-sig-empty-")), launcher, "no trainer.json yet (start-up)");

    const record = JSON.parse(readFileSync(join(runDir, "trainer.json"), "utf8"));
    writeFileSync(join(runDir, "trainer.json"), JSON.stringify({ ...record, pid: launcher }));
    assert.equal(gracefulStopPid(launcher, runDir), launcher, "one process: the record names the launched trainer itself");
    writeFileSync(join(runDir, "trainer.json"), JSON.stringify({ ...record, pid: 2 ** 22 + 7 }));
    assert.equal(gracefulStopPid(launcher, runDir), launcher, "a stale record (its pid is gone)");
  } finally {
    run.kill();
    if (rank0) await allGone([rank0], 0);
  }
});

test("DetachedRun under a launcher: the escalated stop's SIGTERM goes to rank 0, which stops with done, and the launch exits 0", { skip: onLinux }, async () => {
  const { run, runDir, events } = launchDetached({ FAKE_IGNORE_STOP: "1" });
  const launcher = run.trainerPid!;
  let rank0 = 0;
  try {
    await waitFor(run, (e) => e.type === "step", 10_000, events);
    rank0 = await rank0Pid(runDir);
    const exit = await within(run.stop(300), 5000, "stop");
    const stderr = readFileSync(join(runDir, "stderr.log"), "utf8");
    assert.deepEqual({ code: exit.code, signal: exit.signal, crashed: exit.crashed, sawDone: exit.sawDone }, { code: 0, signal: null, crashed: false, sawDone: true }, stderr);
    const last = events.at(-1);
    assert.equal(last?.type === "done" ? last.reason : last?.type, "stopped");
    assert.doesNotMatch(stderr, /fake launcher: got SIGTERM/, "the launcher was not signalled");
    assert.ok(await allGone([launcher, rank0]), "no process of the launch is left");
  } finally {
    run.kill();
    if (rank0) await allGone([rank0], 0);
  }
});

test("DetachedRun under a launcher: SIGKILL takes the launcher and the rank in its own session", { skip: onLinux }, async () => {
  const { run, runDir, events } = launchDetached({ FAKE_IGNORE_STOP: "1", FAKE_IGNORE_SIGTERM: "1" });
  const launcher = run.trainerPid!;
  let rank0 = 0;
  try {
    await waitFor(run, (e) => e.type === "step", 10_000, events);
    rank0 = await rank0Pid(runDir);
    const exit = await within(run.stop(100), 5000, "stop");
    assert.equal(exit.signal, "SIGKILL");
    assert.match(readFileSync(join(runDir, "stderr.log"), "utf8"), /fake trainer: ignoring SIGTERM/, "SIGTERM went to rank 0 first");
    assert.ok(await allGone([launcher, rank0], 2000), "the rank did not outlive its launcher");
  } finally {
    run.kill();
    if (rank0) await allGone([rank0], 0);
  }
});

function startPiped(env: Record<string, string>, newProcessGroup: boolean): { run: RunManager; runDir: string; events: Event[] } {
  const runDir = tempDir("hima-sig-piped-");
  // --control-socket makes the fake trainer write trainer.json, as the real one always does.
  const run = RunManager.start({
    ...launchCommand(runDir, ["--control-socket", join(runDir, "control.sock")]),
    cwd: REPO_ROOT, env: { ...process.env, FAKE_STEP_MS: "20", ...env }, runId: "run-1", runDir, newProcessGroup,
  });
  const events: Event[] = [];
  run.onEvent((e) => events.push(e));
  return { run, runDir, events };
}

test("RunManager under a launcher: the escalated stop's SIGTERM goes to rank 0 and the launch exits 0", { skip: onLinux }, async () => {
  const { run, runDir, events } = startPiped({ FAKE_IGNORE_STOP: "1" }, true);
  let rank0 = 0;
  try {
    await waitFor(run, (e) => e.type === "step", 10_000, events);
    rank0 = await rank0Pid(runDir);
    const exit = await within(run.stop(300), 5000, "stop");
    assert.deepEqual({ code: exit.code, signal: exit.signal, crashed: exit.crashed, sawDone: exit.sawDone }, { code: 0, signal: null, crashed: false, sawDone: true }, exit.stderrTail.join("\n"));
    assert.ok(!exit.stderrTail.some((l) => l.includes("fake launcher: got SIGTERM")), "the launcher was not signalled");
    assert.ok(await allGone([rank0]));
  } finally {
    run.kill();
    if (rank0) await allGone([rank0], 0);
  }
});

test("RunManager under a launcher in our own process group: kill() takes the launcher and the rank", { skip: onLinux }, async () => {
  const { run, runDir, events } = startPiped({}, false);
  let rank0 = 0;
  try {
    await waitFor(run, (e) => e.type === "step", 10_000, events);
    rank0 = await rank0Pid(runDir);
    run.kill();
    // A rank left running would also hold the launch's stdout open, so the run would never end.
    const exit = await within(run.exited, 5000, "the end of the run after kill()");
    assert.equal(exit.signal, "SIGKILL");
    assert.ok(await allGone([rank0], 2000), "the rank did not outlive its launcher");
  } finally {
    run.kill();
    if (rank0) await allGone([rank0], 0);
  }
});
