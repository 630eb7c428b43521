// Hostile input at the extension's edges: messages from the webview (fuzzed), run ids and run folders that
// try to leave the runs folder, and trainer.json files that point at processes that are not the trainer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { parseWebviewMessage, WEBVIEW_COMMANDS } from "../../common/messages";
import { controlSocketPath } from "../../src/run/ControlChannel";
import { DetachedRun } from "../../src/run/DetachedRun";
import { resumeLaunch } from "../../src/run/resumeLaunch";
import { findLiveRun, findLiveRuns, resumableRuns, safeRunDir } from "../../src/run/runDiscovery";
import { isTrainerOf, parseTrainerRecord, readTrainerRecord } from "../../src/run/TrainerRecord";
import { tempDir } from "../fixtures/runHelpers";
import { alive, sleep, waitGone } from "./detachedHelpers";

// ---- webview messages ---------------------------------------------------------------------------------

const KINDS = ["ready", "setCutoffs", "pin", "unpin", "command", "painted"];

/** What a valid message looks like, written independently of parseWebviewMessage. */
function isValidMessage(m: Record<string, unknown>): boolean {
  const frac = (x: unknown) => typeof x === "number" && Number.isFinite(x) && x >= 0 && x <= 1;
  const name = (x: unknown) => typeof x === "string" && x.length > 0 && x.length <= 1024;
  switch (m.kind) {
    case "ready":
      return true;
    case "setCutoffs":
      return frac(m.hot) && frac(m.warm) && (m.hot as number) <= (m.warm as number);
    case "pin":
      return name(m.name) && ["hot", "warm", "cold"].includes(m.tier as string);
    case "unpin":
      return name(m.name);
    case "command":
      return (WEBVIEW_COMMANDS as readonly unknown[]).includes(m.command);
    case "painted":
      return Number.isInteger(m.seq);
    default:
      return false;
  }
}

test("webview messages, fuzzed: anything at all never throws, and only well-formed messages pass", () => {
  fc.assert(
    fc.property(fc.anything({ withNullPrototype: true, withBigInt: true, withMap: true, withSet: true, withTypedArray: true }), (raw) => {
      const parsed = parseWebviewMessage(raw);
      if (typeof parsed !== "string") assert.ok(typeof raw === "object" && raw !== null && isValidMessage(raw as Record<string, unknown>));
    }),
    { numRuns: 2000 },
  );
});

test("webview messages, fuzzed near the real shapes: accepted exactly when valid, and the result carries no extra fields", () => {
  const value = fc.oneof(fc.double(), fc.integer(), fc.string({ maxLength: 1100 }), fc.constantFrom("hot", "warm", "cold", "stop", "openRun", "__proto__"), fc.constant(null), fc.boolean(), fc.object());
  const message = fc.record(
    { kind: fc.oneof(fc.constantFrom(...KINDS), fc.string()), hot: value, warm: value, name: value, tier: value, command: fc.oneof(fc.constantFrom(...WEBVIEW_COMMANDS), value), seq: value, extra: value },
    { requiredKeys: ["kind"] },
  );
  fc.assert(
    fc.property(message, (m) => {
      const parsed = parseWebviewMessage(m);
      assert.equal(typeof parsed !== "string", isValidMessage(m), JSON.stringify(m).slice(0, 300));
      if (typeof parsed !== "string") assert.equal("extra" in parsed, false, "unknown fields are not passed on");
    }),
    { numRuns: 5000 },
  );
});

test("webview messages that are strings, arrays, numbers or JSON text are refused with a reason", () => {
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.json(), fc.array(fc.anything()), fc.double(), fc.constant(undefined)), (raw) => {
      const parsed = parseWebviewMessage(raw);
      if (typeof raw !== "object" || raw === null || Array.isArray(raw)) assert.equal(typeof parsed, "string");
    }),
  );
});

// ---- run ids and folders ------------------------------------------------------------------------------

const TRAVERSALS = ["..", ".", "", "../x", "../../etc", "/etc", "/tmp/x", "a/../../b", "a/b", "a\\..\\b", "x\0y", ".hidden", "-rf", "~", "a".repeat(129), "%2e%2e", "..\u2215x", " x", "x\n"];

test("run ids that are not plain names are refused by every entry point: open, attach, resume", async () => {
  const runsDir = tempDir();
  for (const id of TRAVERSALS) {
    assert.throws(() => safeRunDir(runsDir, id), /invalid run id/, `safeRunDir ${JSON.stringify(id)}`);
    await assert.rejects(findLiveRun(runsDir, id), /invalid run id/, `attach ${JSON.stringify(id)}`);
    await assert.rejects(resumeLaunch(runsDir, id, "python3", runsDir), /invalid run id/, `resume ${JSON.stringify(id)}`);
  }
  assert.equal(safeRunDir(runsDir, "20261126-123456-ab12"), join(runsDir, "20261126-123456-ab12"));
});

test("a run folder that is a symbolic link to outside the runs folder is refused; listings skip it", async () => {
  const root = tempDir();
  const runsDir = join(root, "runs");
  const outside = join(root, "outside");
  mkdirSync(runsDir);
  mkdirSync(join(outside, "checkpoints"), { recursive: true });
  writeFileSync(join(outside, "checkpoints", "ckpt-00000005.pt"), "x");
  writeFileSync(join(outside, "checkpoints", "latest"), "ckpt-00000005.pt\n");
  writeFileSync(join(outside, "events.jsonl"), "");
  symlinkSync(outside, join(runsDir, "evil"));
  assert.throws(() => safeRunDir(runsDir, "evil"), /link to outside the runs folder/);
  await assert.rejects(findLiveRun(runsDir, "evil"), /link to outside/);
  await assert.rejects(resumeLaunch(runsDir, "evil", "python3", root), /link to outside/);
  assert.deepEqual(await resumableRuns(runsDir), []);
  // A link inside the runs folder is harmless.
  mkdirSync(join(runsDir, "real"));
  symlinkSync(join(runsDir, "real"), join(runsDir, "alias"));
  assert.equal(safeRunDir(runsDir, "alias"), join(runsDir, "alias"));
});

test("resume refuses a run without a checkpoint, or whose latest pointer names something that is not a checkpoint", async () => {
  const runsDir = tempDir();
  mkdirSync(join(runsDir, "r1", "checkpoints"), { recursive: true });
  await assert.rejects(resumeLaunch(runsDir, "r1", "python3", runsDir), /has no checkpoint/);
  writeFileSync(join(runsDir, "r1", "checkpoints", "latest"), "../../../etc/passwd\n");
  await assert.rejects(resumeLaunch(runsDir, "r1", "python3", runsDir), /has no checkpoint/);
  writeFileSync(join(runsDir, "r1", "checkpoints", "latest"), "ckpt-00000010.pt\n");
  await assert.rejects(resumeLaunch(runsDir, "r1", "python3", runsDir), /has no checkpoint/, "named file missing");
  writeFileSync(join(runsDir, "r1", "checkpoints", "ckpt-00000010.pt"), "x");
  const launch = await resumeLaunch(runsDir, "r1", "/usr/bin/python3", runsDir);
  assert.deepEqual(launch.args, ["-m", "hima", "train", "--resume", join(runsDir, "r1"), "--out", join(runsDir, "r1"), "--run-id", "r1"]);
  assert.equal(launch.command, "/usr/bin/python3");
});

// ---- trainer.json -------------------------------------------------------------------------------------

test("trainer.json pids that could signal the wrong processes are refused outright", () => {
  for (const pid of [0, 1, -1, -1234, 1.5, Number.NaN, Infinity, "123", null, 2 ** 60, process.pid]) {
    assert.equal(parseTrainerRecord({ pid, started: 1 }), null, `pid ${String(pid)}`);
  }
  for (const raw of [null, [], "x", 42, { started: 1 }]) assert.equal(parseTrainerRecord(raw), null);
  assert.equal(parseTrainerRecord({ pid: 4242, started: 1_700_000_000 })?.startedMs, 1_700_000_000_000, "seconds since the epoch");
  assert.equal(parseTrainerRecord({ pid: 4242, started: "2026-01-01T00:00:00Z" })?.startedMs, Date.parse("2026-01-01T00:00:00Z"));
});

test("a trainer.json naming a live process that is not this run's trainer (a reused pid) is not live, and stop never signals it", async () => {
  const runsDir = tempDir();
  const runDir = join(runsDir, "r1");
  mkdirSync(runDir);
  writeFileSync(join(runDir, "events.jsonl"), "");
  const bystander = spawn(process.execPath, ["-e", "setTimeout(() => {}, 30000)"], { stdio: "ignore" });
  const pid = bystander.pid!;
  try {
    writeFileSync(join(runDir, "trainer.json"), JSON.stringify({ pid, started: Date.now() / 1000, run_id: "r1", control_socket: null, argv: [] }));
    assert.equal(isTrainerOf(pid, runDir, null), false, "its command line does not name the run folder");
    assert.equal(await findLiveRun(runsDir, "r1"), null);
    assert.deepEqual(await findLiveRuns(runsDir), []);

    // Even when forced to attach with that record, neither stop nor kill touches the bystander.
    const record = (await readTrainerRecord(runDir))!;
    const run = DetachedRun.attach("r1", runDir, record, { livenessPollMs: 20, connectTimeoutMs: 100, termGraceMs: 50 });
    const exit = await run.stop(50);
    run.kill();
    assert.equal(exit.unobserved, true);
    await sleep(200);
    assert.equal(alive(pid), true, "the bystander is untouched");
  } finally {
    bystander.kill("SIGKILL");
    await waitGone(pid, 2000);
  }
});

test("a process whose command line names the run folder but started after trainer.json was written is a reused pid", async () => {
  const runDir = tempDir();
  const impostor = spawn(process.execPath, ["-e", "setTimeout(() => {}, 30000)", runDir], { stdio: "ignore" });
  const pid = impostor.pid!;
  try {
    await sleep(100);
    assert.equal(isTrainerOf(pid, runDir, Date.now()), true, "names the folder and started before the record");
    assert.equal(isTrainerOf(pid, runDir, Date.now() - 60_000), false, "started a minute after the record was written");
  } finally {
    impostor.kill("SIGKILL");
    await waitGone(pid, 2000);
  }
});

test("the control socket path: trainer.json first, then control.path, else <runDir>/control.sock; relative paths are ignored", async () => {
  const runDir = tempDir();
  assert.equal(await controlSocketPath(runDir), join(runDir, "control.sock"));
  writeFileSync(join(runDir, "control.path"), "relative/evil.sock\n");
  assert.equal(await controlSocketPath(runDir), join(runDir, "control.sock"));
  writeFileSync(join(runDir, "control.path"), "/tmp/hima-x/control.sock\n");
  assert.equal(await controlSocketPath(runDir), "/tmp/hima-x/control.sock");
  writeFileSync(join(runDir, "trainer.json"), JSON.stringify({ pid: 4242, started: 1, control_socket: "/run/user/1/hima-y/control.sock" }));
  assert.equal(await controlSocketPath(runDir), "/run/user/1/hima-y/control.sock");
});

test("a control to a path that is not a socket (a planted file) is not sent, and the failure is reported with the control's id", async () => {
  const runDir = tempDir();
  writeFileSync(join(runDir, "control.sock"), "not a socket");
  const bystander = spawn(process.execPath, ["-e", "setTimeout(() => {}, 30000)", runDir], { stdio: "ignore" });
  try {
    await sleep(100);
    writeFileSync(join(runDir, "trainer.json"), JSON.stringify({ pid: bystander.pid, started: Date.now() / 1000 + 5 }));
    const run = DetachedRun.attach("r", runDir, (await readTrainerRecord(runDir))!, { connectTimeoutMs: 200 });
    const failed = new Promise<[string, string]>((resolve) => run.onControlFailed((id, reason) => resolve([id, reason])));
    const id = run.sendControl({ type: "pause" });
    const [failedId, reason] = await failed;
    assert.equal(failedId, id);
    assert.match(reason, /is not a socket/);
    run.release();
  } finally {
    bystander.kill("SIGKILL");
  }
});
