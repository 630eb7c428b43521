// Panel benchmark (`npm run bench:panel`; prints figures, asserts nothing):
//  1. replay: a synthetic 100k-step run log (small GPT, ~150 tensors) is read from disk and folded into a
//     RunModel, as "HiMA: Open Run" does; host time and heap are measured;
//  2. first paint: the snapshot of that run is rendered by the real panel bundle in headless Chromium;
//  3. live: 50 events/s for ~10 s go through the RunModel and throttled updates (every 50 ms, as
//     src/views/PanelHost.ts does) to the page; event-to-paint latency comes from the panel's `painted` acks.
// Writes test-results/bench-panel.json.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { Event } from "../../protocol/protocol.generated";
import { readRunEvents } from "../../src/run/RunStore";
import { RunModel } from "../../src/run/RunModel";
import { syntheticEvents } from "../panel/syntheticRun";
import { openPanel } from "../panel/panelPage";

const STEPS = 100_000;
const LIVE_EVENTS_PER_S = 50;
const LIVE_SECONDS = 10;
/** Mirrors UPDATE_INTERVAL_MS in src/views/PanelHost.ts (which imports vscode, so it cannot run here). */
const UPDATE_INTERVAL_MS = 50;
const TARGETS = { replayMs: 2000, p95Ms: 100 };

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

function heap(): { heapUsedMiB: number; rssMiB: number } {
  gc();
  const m = process.memoryUsage();
  return { heapUsedMiB: mib(m.heapUsed), rssMiB: mib(m.rss) };
}

async function main(): Promise<void> {
  const runDir = mkdtempSync(join(tmpdir(), "hima-bench-"));
  const results: Record<string, unknown> = { cpus: cpus().length, loadAverageAtStart: loadavg()[0] };
  try {
    // The run log, written once (not timed): what the trainer would have left in events.jsonl.
    const lines: string[] = [];
    let stepsEmitted = 0;
    for (const e of syntheticEvents({ steps: STEPS, tierEvery: 50, memoryEvery: 50, evalEvery: 500, seed: 42, done: false })) {
      lines.push(JSON.stringify(e));
      if (e.type === "step") stepsEmitted++;
    }
    writeFileSync(join(runDir, "events.jsonl"), lines.join("\n") + "\n");
    const logBytes = lines.reduce((s, l) => s + l.length + 1, 0);
    lines.length = 0;
    const before = heap();

    // 1. Replay.
    const t0 = performance.now();
    const read = await readRunEvents(runDir);
    const t1 = performance.now();
    const model = new RunModel();
    for (const e of read.events) model.apply(e);
    const t2 = performance.now();
    const snapshot = model.snapshot();
    const t3 = performance.now();
    const snapshotBytes = JSON.stringify(snapshot).length;
    const eventCount = read.events.length;
    read.events.length = 0; // the host keeps the model, not the parsed log
    const afterReplay = heap();
    results.replay = {
      events: eventCount, steps: stepsEmitted, logMiB: mib(logBytes), skipped: read.skipped,
      readAndValidateMs: Math.round(t1 - t0), foldMs: Math.round(t2 - t1), snapshotMs: Math.round(t3 - t2),
      totalMs: Math.round(t3 - t0), snapshotKiB: Math.round(snapshotBytes / 1024),
      hostHeapBeforeMiB: before.heapUsedMiB, hostHeapAfterMiB: afterReplay.heapUsedMiB, hostRssAfterMiB: afterReplay.rssMiB,
    };

    // 2. First paint of the replayed run.
    const panel = await openPanel({ width: 460, height: 1300 });
    try {
      const paintedAt = new Map<number, number>();
      let onPaint: ((seq: number) => void) | null = null;
      await panel.page.exposeFunction("__himaBenchPainted", (seq: number) => {
        paintedAt.set(seq, performance.now());
        onPaint?.(seq);
      });
      // Forward the panel's `painted` posts to Node as they happen, instead of polling the sent list.
      await panel.page.evaluate(() => {
        const sent = window.__himaTest!.sent;
        const push = sent.push.bind(sent);
        sent.push = (...items) => {
          for (const m of items) if (m.kind === "painted") (window as unknown as { __himaBenchPainted(seq: number): void }).__himaBenchPainted(m.seq);
          return push(...items);
        };
      });
      const firstPaint = new Promise<void>((ok) => (onPaint = (seq) => seq === 1 && ok()));
      const tp0 = performance.now();
      await panel.post({ kind: "snapshot", snapshot, seq: 1 });
      await firstPaint;
      results.firstPaint = { ms: Math.round(paintedAt.get(1)! - tp0) };

      // 3. Live stream: continue the run where the log ended.
      const live = syntheticEvents({ steps: STEPS + LIVE_EVENTS_PER_S * LIVE_SECONDS, tierEvery: 50, memoryEvery: 50, evalEvery: 500, seed: 43 });
      const liveEvents: Event[] = [];
      for (const e of live) if (e.type !== "hello" && (!("step" in e) || e.step > STEPS)) liveEvents.push(e);
      const total = Math.min(liveEvents.length, LIVE_EVENTS_PER_S * LIVE_SECONDS);
      const eventTimes: number[] = [];
      const eventSeq: number[] = [];
      let seq = 1;
      let pendingFrom = 0; // first event not yet sent in an update
      let lastFlush = 0;
      let flushTimer: NodeJS.Timeout | undefined;
      const flushTimes: number[] = [];
      const flush = () => {
        flushTimer = undefined;
        lastFlush = performance.now();
        const tf = performance.now();
        const update = model.takeUpdate();
        flushTimes.push(performance.now() - tf);
        if (!update) return;
        seq++;
        for (let i = pendingFrom; i < eventTimes.length; i++) eventSeq[i] = seq;
        pendingFrom = eventTimes.length;
        void panel.post({ kind: "update", update, seq });
      };
      const started = performance.now();
      for (let i = 0; i < total; i++) {
        const due = started + (i * 1000) / LIVE_EVENTS_PER_S;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((ok) => setTimeout(ok, wait));
        eventTimes.push(performance.now());
        model.apply(liveEvents[i]);
        flushTimer ??= setTimeout(flush, Math.max(0, lastFlush + UPDATE_INTERVAL_MS - performance.now()));
      }
      await new Promise((ok) => setTimeout(ok, UPDATE_INTERVAL_MS + 5));
      if (flushTimer) clearTimeout(flushTimer);
      flush();
      const lastSeq = seq;
      const deadline = performance.now() + 10_000;
      while (![...paintedAt.keys()].some((s) => s >= lastSeq) && performance.now() < deadline) await new Promise((ok) => setTimeout(ok, 20));

      // An event is on screen at the first paint whose seq covers the update that carried it.
      const paints = [...paintedAt.entries()].sort((a, b) => a[0] - b[0]);
      const latencies: number[] = [];
      let missing = 0;
      for (let i = 0; i < eventTimes.length; i++) {
        const paint = paints.find(([s]) => s >= eventSeq[i]);
        if (paint) latencies.push(paint[1] - eventTimes[i]);
        else missing++;
      }
      latencies.sort((a, b) => a - b);
      flushTimes.sort((a, b) => a - b);
      const paintMs = (await panel.page.evaluate(() => performance.getEntriesByName("hima-paint").map((e) => e.duration))).sort((a, b) => a - b);
      const pageHeap = await panel.page.evaluate(() => (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? null);
      const end = heap();
      results.live = {
        events: eventTimes.length, seconds: Math.round((performance.now() - started) / 100) / 10, updates: lastSeq - 1,
        framesPainted: paints.length - 1, unpaintedEvents: missing,
        p50Ms: Math.round(percentile(latencies, 50)), p95Ms: Math.round(percentile(latencies, 95)), maxMs: Math.round(latencies[latencies.length - 1]),
        takeUpdateP95Ms: Math.round(percentile(flushTimes, 95) * 10) / 10,
        panelFrameP50Ms: Math.round(percentile(paintMs, 50) * 10) / 10, panelFrameP95Ms: Math.round(percentile(paintMs, 95) * 10) / 10,
        hostHeapMiB: end.heapUsedMiB, hostRssMiB: end.rssMiB, pageHeapMiB: pageHeap === null ? null : mib(pageHeap),
      };
      results.pageErrors = panel.errors;
    } finally {
      await panel.close();
    }
  } finally {
    rmSync(runDir, { recursive: true, force: true });
  }

  const r = results as { replay: Record<string, number>; firstPaint: { ms: number }; live: Record<string, number | null> };
  const rows: Array<[string, string, string]> = [
    ["replay 100k steps (read+validate / fold / snapshot)", `${r.replay.totalMs} ms (${r.replay.readAndValidateMs} / ${r.replay.foldMs} / ${r.replay.snapshotMs})`, `< ${TARGETS.replayMs} ms`],
    ["  events / log size / snapshot size", `${r.replay.events} / ${r.replay.logMiB} MiB / ${r.replay.snapshotKiB} KiB`, ""],
    ["time to first paint (snapshot -> painted)", `${r.firstPaint.ms} ms`, ""],
    ["live: events / updates / frames", `${r.live.events} / ${r.live.updates} / ${r.live.framesPainted}`, `${LIVE_EVENTS_PER_S}/s`],
    ["live: event-to-paint p50 / p95 / max", `${r.live.p50Ms} / ${r.live.p95Ms} / ${r.live.maxMs} ms`, `p95 <= ${TARGETS.p95Ms} ms`],
    ["host: takeUpdate p95", `${r.live.takeUpdateP95Ms} ms`, ""],
    ["panel: script time per frame p50 / p95", `${r.live.panelFrameP50Ms} / ${r.live.panelFrameP95Ms} ms`, ""],
    ["host heap: before replay / after replay / end", `${r.replay.hostHeapBeforeMiB} / ${r.replay.hostHeapAfterMiB} / ${r.live.hostHeapMiB} MiB`, ""],
    ["host RSS (end)", `${r.live.hostRssMiB} MiB`, ""],
    ["webview JS heap (end)", r.live.pageHeapMiB === null ? "n/a" : `${r.live.pageHeapMiB} MiB`, ""],
  ];
  const w0 = Math.max(...rows.map((x) => x[0].length));
  const w1 = Math.max(...rows.map((x) => x[1].length));
  results.loadAverageAtEnd = loadavg()[0];
  console.log(`HiMA panel benchmark (${new Date().toISOString()}, node ${process.version}, ${results.cpus} CPUs, load average ${loadavg()[0].toFixed(1)})`);
  for (const [a, b, c] of rows) console.log(`${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}`);
  const verdict = { replayOk: r.replay.totalMs < TARGETS.replayMs, p95Ok: (r.live.p95Ms ?? Infinity) <= TARGETS.p95Ms };
  console.log(`targets: replay ${verdict.replayOk ? "met" : "MISSED"}, p95 ${verdict.p95Ok ? "met" : "MISSED"}`);
  const out = resolve(__dirname, "..", "..", "test-results");
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, "bench-panel.json"), JSON.stringify({ ...results, targets: TARGETS, verdict }, null, 2) + "\n");
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
