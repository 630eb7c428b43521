// Fault injection (`npm run test:faults`): a deterministic tiny CPU run is SIGKILLed at seeded random
// points and resumed from its run folder, again and again, like a user whose machine keeps dying.
// After every kill: events.jsonl holds only complete lines except a possibly torn last one, which the
// extension's own log reader reports as torn (never as an event); `latest` names a complete checkpoint
// no older than the last one the log announced. Every resume starts at that checkpoint (so it loaded)
// and every step of every segment has the uninterrupted run's loss, bit for bit.
// Figures go to test-results/faults.json. Knobs: HIMA_FAULT_KILLS (default 24), HIMA_FAULT_SEED, HIMA_PYTHON.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Event } from "../../protocol/protocol.generated";
import { readRunEvents } from "../../src/run/RunStore";
import { validateEvent } from "../../src/run/validateEvent";
import { tempDir, writeSyntheticTokens } from "../fixtures/runHelpers";
import { killRunningSegments, latestCheckpointStep, runSegment, type KillPoint, type TrainerSetup } from "./trainerSegment";
import { seededRandom } from "../fixtures/seededRandom";

const KILLS = Number(process.env.HIMA_FAULT_KILLS ?? 24);
const SEED = Number(process.env.HIMA_FAULT_SEED ?? 7331);
const KILLS_PER_RUN = 4; // then the run is left to finish, and the next run folder starts
const MAX_STEPS = 24;
const SEGMENT_TIMEOUT_MS = 180_000;
/** Share of kills after which the log's last line is also cut mid-line (a SIGKILL during a write). */
const TEAR_SHARE = 0.25;
const CONFIG = {
  batch_size: 4, block_size: 32, eval_every: 0, eval_batches: 2, warmup_steps: 5, retier_every: 5, first_retier: 5,
  probe_every: 5, memory_every: 5, lr: 3e-3, checkpoint_every: 4, keep_checkpoints: 2, threads: 1,
};


const stepLosses = (events: Event[]) => events.flatMap((e) => (e.type === "step" ? [[e.step, e.loss] as const] : []));

interface Tally {
  seed: number; kills_requested: number; kills_injected: number; survived: number;
  kill_points: { during_startup: number; mid_run: number; at_or_after_last_step: number };
  finished_before_kill: number; kills_mid_checkpoint_write: number; torn_last_lines_found: number; torn_last_lines_injected: number;
  resumes: number; resumes_from_checkpoint: number; steps_compared: number; runs: number; wall_s: number; failures: string[];
}

after(killRunningSegments);

test("SIGKILL at random points: complete log lines, loadable checkpoints, bit-identical resume", { timeout: 1_200_000 }, async () => {
  const started = Date.now();
  const random = seededRandom(SEED);
  const root = tempDir("hima-faults-");
  mkdirSync(join(root, "tokens"));
  const setup: TrainerSetup = { dataDir: writeSyntheticTokens(join(root, "tokens")), configFile: join(root, "run.json"), maxSteps: MAX_STEPS };
  writeFileSync(setup.configFile, JSON.stringify(CONFIG));
  const tally: Tally = {
    seed: SEED, kills_requested: KILLS, kills_injected: 0, survived: 0,
    kill_points: { during_startup: 0, mid_run: 0, at_or_after_last_step: 0 },
    finished_before_kill: 0, kills_mid_checkpoint_write: 0, torn_last_lines_found: 0, torn_last_lines_injected: 0,
    resumes: 0, resumes_from_checkpoint: 0, steps_compared: 0, runs: 0, wall_s: 0, failures: [],
  };

  const whole = await runSegment(setup, join(root, "uninterrupted"), null, SEGMENT_TIMEOUT_MS);
  assert.equal(whole.code, 0, `uninterrupted run failed:\n${whole.stderr}`);
  const baseline = new Map(stepLosses(whole.events));
  assert.equal(baseline.size, MAX_STEPS);
  const done = whole.events.at(-1);
  assert.ok(done?.type === "done");
  const baselineValLoss = done.summary.last_val_loss;

  for (let run = 0; tally.kills_injected < KILLS; run++) {
    tally.runs++;
    const runDir = join(root, `run-${run}`);
    const failuresBefore = tally.failures.length;
    const fail = (what: string) => tally.failures.push(`run-${run}: ${what}`);
    let killsHere = 0;
    let fragments = 0; // torn lines from earlier kills, repaired (terminated) by the resume after them
    const tempSeen = new Set<string>(); // temporary files of interrupted saves, until the next save clears them
    let tornTail = false; // the log currently ends mid-line (not repaired yet: no segment has written since)
    for (;;) {
      const resumeFrom = latestCheckpointStep(runDir);
      const startStep = resumeFrom ?? 0;
      const wantKill = killsHere < KILLS_PER_RUN && tally.kills_injected < KILLS;
      let kill: KillPoint = null;
      if (wantKill) {
        const where = random();
        if (where < 0.1) kill = { afterSpawnMs: Math.floor(random() * 4000) }; // Python still starting
        else if (where < 0.2 || startStep + 1 >= MAX_STEPS) kill = { afterStep: MAX_STEPS, delayMs: Math.floor(random() * 60) }; // final eval/save
        else kill = { afterStep: startStep + 1 + Math.floor(random() * (MAX_STEPS - 1 - startStep)), delayMs: Math.floor(random() * 40) };
      }
      const sizeBefore = logSize(runDir);
      if (sizeBefore > 0) tally.resumes++;
      const seg = await runSegment(setup, runDir, kill, SEGMENT_TIMEOUT_MS);
      if (tornTail && logSize(runDir) > sizeBefore) {
        fragments++; // this segment terminated the torn line: it is now an unreadable line mid-log
        tornTail = false;
      }
      if (seg.noise.length) fail(`stdout noise: ${seg.noise.slice(0, 3).join(" | ")}`);
      const hello = seg.events.find((e) => e.type === "hello");
      if (hello?.type === "hello") {
        if (resumeFrom !== null) tally.resumes_from_checkpoint++;
        if (hello.start_step !== startStep) fail(`segment started at step ${hello.start_step}, latest checkpoint is step ${startStep}`);
      }
      const killed = seg.signal === "SIGKILL";
      if (!killed && seg.code !== 0) {
        fail(`trainer exited with ${seg.code}: ${seg.stderr.slice(-1500)}`);
        break;
      }
      if (killed) {
        tally.kills_injected++;
        killsHere++;
        const lastStep = stepLosses(seg.events).at(-1)?.[0];
        if (!hello) tally.kill_points.during_startup++;
        else if (lastStep === MAX_STEPS) tally.kill_points.at_or_after_last_step++;
        else tally.kill_points.mid_run++;
        const checkpoints = join(runDir, "checkpoints");
        const newTemp = existsSync(checkpoints) ? readdirSync(checkpoints).filter((n) => n.startsWith(".tmp-") && !tempSeen.has(n)) : [];
        if (newTemp.length) tally.kills_mid_checkpoint_write++; // this kill cut a checkpoint (or `latest`) write
        newTemp.forEach((n) => tempSeen.add(n));
        if (random() < TEAR_SHARE && tearLastLine(runDir, random)) tally.torn_last_lines_injected++;
      } else if (kill) {
        tally.finished_before_kill++;
      }
      const torn = await checkLog(runDir, fragments, fail);
      if (torn && !tornTail) tally.torn_last_lines_found++;
      tornTail = torn;
      checkLatest(runDir, fail);
      if (!killed) break; // finished: this run is complete
    }
    // The whole run folder, all segments: every logged step has the uninterrupted loss, bit for bit.
    const { events, skipped, torn } = await readRunEvents(runDir);
    for (const [step, loss] of stepLosses(events)) {
      tally.steps_compared++;
      if (baseline.get(step) !== loss) fail(`step ${step}: loss ${loss}, uninterrupted ${baseline.get(step)}`);
    }
    const last = events.at(-1);
    if (last?.type !== "done" || last.reason !== "completed" || last.step !== MAX_STEPS) fail(`does not end with done/completed at step ${MAX_STEPS}`);
    else if (last.summary.last_val_loss !== baselineValLoss) fail(`final val loss ${last.summary.last_val_loss}, uninterrupted ${baselineValLoss}`);
    if (torn || skipped !== fragments) fail(`finished log: ${skipped} unreadable lines (expected the ${fragments} repaired torn ones), torn end: ${torn}`);
    const leftovers = readdirSync(join(runDir, "checkpoints")).filter((n) => n.startsWith(".tmp-"));
    if (leftovers.length) fail(`temporary checkpoint files left: ${leftovers.join(", ")}`);
    if (existsSync(join(runDir, "control.sock"))) fail("control socket left behind after a clean exit");
    if (tally.failures.length === failuresBefore) tally.survived += killsHere;
  }

  tally.wall_s = Math.round((Date.now() - started) / 1000);
  mkdirSync("test-results", { recursive: true });
  writeFileSync(join("test-results", "faults.json"), JSON.stringify(tally, null, 2) + "\n");
  console.log(`faults: ${tally.kills_injected} SIGKILLs injected, ${tally.survived} survived ` +
    `(startup ${tally.kill_points.during_startup}, mid-run ${tally.kill_points.mid_run}, after the last step ${tally.kill_points.at_or_after_last_step}, mid checkpoint write ${tally.kills_mid_checkpoint_write}); ` +
    `torn last lines found ${tally.torn_last_lines_found} (${tally.torn_last_lines_injected} cut on purpose); ` +
    `${tally.resumes_from_checkpoint} resumes from a checkpoint; ${tally.steps_compared} step losses compared; ${tally.wall_s} s -> test-results/faults.json`);
  assert.deepEqual(tally.failures, []);
  assert.equal(tally.survived, tally.kills_injected);
});

function logSize(runDir: string): number {
  const file = join(runDir, "events.jsonl");
  return existsSync(file) ? statSync(file).size : 0;
}

/** Cuts the log inside its last line, as a SIGKILL in the middle of a write would. False if there is none,
 * or if the last line is not an event: a segment killed right after it terminated an earlier torn line ends
 * the log with that fragment, already counted as a repaired one; tearing it again would miscount. */
function tearLastLine(runDir: string, random: () => number): boolean {
  const file = join(runDir, "events.jsonl");
  if (!existsSync(file)) return false;
  const raw = readFileSync(file);
  if (raw.length < 2 || raw[raw.length - 1] !== 0x0a) return false;
  const lineStart = raw.lastIndexOf(0x0a, raw.length - 2) + 1;
  const lineLength = raw.length - 1 - lineStart;
  if (lineLength < 2 || !isEventLine(raw.subarray(lineStart, raw.length - 1).toString("utf8"))) return false;
  truncateSync(file, lineStart + 1 + Math.floor(random() * (lineLength - 1)));
  return true;
}

function isEventLine(text: string): boolean {
  try {
    return typeof validateEvent(JSON.parse(text)) !== "string";
  } catch {
    return false;
  }
}

/** The log after a kill: complete lines only, except a last one that the reader must report as torn. */
async function checkLog(runDir: string, fragments: number, fail: (what: string) => void): Promise<boolean> {
  const file = join(runDir, "events.jsonl");
  if (!existsSync(file)) return false; // killed before the trainer opened it
  const raw = readFileSync(file);
  const endsMidLine = raw.length > 0 && raw[raw.length - 1] !== 0x0a;
  const { skipped, torn } = await readRunEvents(runDir);
  if (torn !== endsMidLine) fail(`log ${endsMidLine ? "ends mid-line" : "ends with a newline"} but the reader says torn=${torn}`);
  const expected = fragments + (endsMidLine ? 1 : 0);
  if (skipped !== expected) fail(`log has ${skipped} unreadable lines, expected ${expected} (torn ones only)`);
  return endsMidLine;
}

/** `latest` names an existing checkpoint, at least as new as the last `checkpoint` event in the log. */
function checkLatest(runDir: string, fail: (what: string) => void): void {
  const file = join(runDir, "events.jsonl");
  const announced = existsSync(file)
    ? readFileSync(file, "utf8").split("\n").flatMap((line) => {
      try {
        const e = JSON.parse(line) as Event;
        return e.type === "checkpoint" ? [e.step] : [];
      } catch {
        return [];
      }
    })
    : [];
  let latest: number | null;
  try {
    latest = latestCheckpointStep(runDir);
  } catch (e) {
    fail(String(e));
    return;
  }
  const newestAnnounced = announced.length ? Math.max(...announced) : null;
  if (newestAnnounced !== null && (latest === null || latest < newestAnnounced)) fail(`latest is step ${latest}, the log announced ${newestAnnounced}`);
  if (latest !== null && !existsSync(join(runDir, "checkpoints", `ckpt-${String(latest).padStart(8, "0")}.pt`))) fail(`latest names a missing file (step ${latest})`);
}
