// The CLI's input/output for tests: stdout and stderr kept in memory, and the Ctrl-C handler callable; and a
// workspace whose `python` is the scripted fake trainer.
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { CliIO } from "../../src/cli/train";
import type { EventOf } from "../../protocol/protocol.generated";
import { DetachedRun } from "../../src/run/DetachedRun";
import { findLiveRun } from "../../src/run/runDiscovery";
import { FAKE_TRAINER, tempDir, writeSyntheticTokens } from "../fixtures/runHelpers";

/** A workspace with token files and a `python` that is really the fake trainer. */
export function fakeWorkspace(): { cwd: string; python: string } {
  const cwd = tempDir("hima-cli-");
  mkdirSync(join(cwd, "data"));
  writeSyntheticTokens(join(cwd, "data"), { nTrain: 1000, nVal: 200 });
  const python = join(cwd, "fake-python");
  writeFileSync(python, `#!/bin/sh\nexec "${process.execPath}" "${FAKE_TRAINER}" "$@"\n`);
  chmodSync(python, 0o755);
  return { cwd, python };
}

export function memoryIO(cwd: string, isTTY = false, columns: number | undefined = 120) {
  const out: string[] = [];
  const err: string[] = [];
  let interrupt: (() => void) | null = null;
  const io: CliIO = {
    stdout: (t) => out.push(t),
    stderr: { write: (t) => err.push(t), isTTY, columns },
    cwd,
    onInterrupt: (cb) => {
      interrupt = cb;
      return () => (interrupt = null);
    },
  };
  return { io, out: () => out.join(""), err: () => err.join(""), interrupt: () => interrupt?.() };
}

/**
 * What a VS Code window does with a run it did not start: find it through trainer.json (runDiscovery),
 * attach (DetachedRun), and send set_cutoffs through the run's socket. Resolves with the trainer's ack.
 */
export async function steerLikeThePanel(runsDir: string, runId: string, timeoutMs: number): Promise<EventOf<"ack">> {
  const deadline = Date.now() + timeoutMs;
  let live = await findLiveRun(runsDir, runId);
  while (!live && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    live = await findLiveRun(runsDir, runId);
  }
  if (!live) throw new Error(`run ${runId} was not found live in ${runsDir} within ${timeoutMs} ms`);
  const run = DetachedRun.attach(runId, live.dir, live.record);
  try {
    return await new Promise<EventOf<"ack">>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no ack for set_cutoffs")), Math.max(1000, deadline - Date.now()));
      let id: string | null = null;
      run.onEvent((e, replayed) => {
        if (!replayed && id === null) id = run.sendControl({ type: "set_cutoffs", hot: 0.2, warm: 0.5 });
        if (e.type === "ack" && e.id === id) {
          clearTimeout(timer);
          resolve(e);
        }
        if (e.type === "rejected" && e.id === id) reject(new Error(`rejected: ${e.reason}`));
      });
      run.onControlFailed((_id, reason) => reject(new Error(`not delivered: ${reason}`)));
    });
  } finally {
    run.release();
  }
}
