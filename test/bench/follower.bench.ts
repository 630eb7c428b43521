// Figures for issue 7's hostile-input item: how long the extension takes to replay a 1M-event log and a
// log with a 10 MB single line through EventLogFollower (the path a re-attach or Resume takes), and what
// that costs the host process in memory. Prints figures; asserts nothing.
//   node --expose-gc dist-test/bench/follower.bench.js [events=1000000]
import { createWriteStream, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EventLogFollower } from "../../src/run/EventLogFollower";
import { RunModel } from "../../src/run/RunModel";

const N = Number(process.argv[2] ?? 1_000_000);
const MB = 1024 * 1024;
const gc = (globalThis as { gc?: () => void }).gc;
const mem = () => {
  gc?.();
  const m = process.memoryUsage();
  return { heap: m.heapUsed / MB, rss: m.rss / MB, external: (m.external + m.arrayBuffers) / MB };
};
const fmt = (m: ReturnType<typeof mem>) => `heap ${m.heap.toFixed(1)} MB, rss ${m.rss.toFixed(1)} MB, buffers ${m.external.toFixed(1)} MB`;

async function writeLog(file: string, lines: Iterable<string>): Promise<void> {
  const out = createWriteStream(file);
  for (const line of lines) if (!out.write(`${line}\n`)) await new Promise<void>((r) => out.once("drain", () => r()));
  await new Promise<void>((r) => out.end(() => r()));
}

function* steps(n: number): Generator<string> {
  yield JSON.stringify({ v: 1, type: "hello", run_id: "bench", method: "hima", device: "cpu", dtype: "float32", max_steps: n, start_step: 0, cutoffs: { hot: 0.3, warm: 0.6 }, model: { preset: "tiny", n_params: 1000, n_layer: 1 }, config: {}, tensors: [{ name: "w", layer: 0, group: "block 0", kind: "mlp.in", shape: [10, 100], numel: 1000 }] });
  for (let i = 1; i < n; i++) yield JSON.stringify({ v: 1, type: "step", step: i, loss: 5 / Math.sqrt(i), lr: 1e-3, step_time_ms: 10, tokens_per_s: 1000 + (i % 100) });
}

/** Replays `file` through the follower; with a model, into it. Returns seconds, events, noise and peak memory. */
async function replay(file: string, model: RunModel | null): Promise<{ seconds: number; events: number; noise: string[]; peakRss: number }> {
  let events = 0;
  const noise: string[] = [];
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss / MB)), 20);
  const t0 = process.hrtime.bigint();
  const f = new EventLogFollower(file, (e) => {
    events++;
    model?.apply(e);
  }, (_t, reason) => noise.push(reason), { pollMs: 1000 });
  await f.drain();
  await f.close({ final: true });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.memoryUsage().rss / MB);
  return { seconds, events, noise, peakRss };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "hima-follow-bench-"));
  try {
    console.log(`follower bench: node ${process.version}, gc ${gc ? "exposed" : "NOT exposed (run with --expose-gc)"}`);
    const log = join(dir, "events.jsonl");
    await writeLog(log, steps(N));
    console.log(`log: ${N} events, ${(statSync(log).size / MB).toFixed(1)} MB`);

    const before = mem();
    const followed = await replay(log, null);
    const afterFollow = mem();
    console.log(`follower only: ${followed.events} events in ${followed.seconds.toFixed(2)} s (${Math.round(followed.events / followed.seconds)} events/s), noise ${followed.noise.length}`);
    console.log(`  memory before ${fmt(before)}; after ${fmt(afterFollow)}; peak rss ${followed.peakRss.toFixed(1)} MB`);

    const model = new RunModel();
    const beforeModel = mem();
    const intoModel = await replay(log, model);
    const afterModel = mem();
    const snapT0 = process.hrtime.bigint();
    const snap = model.snapshot();
    const snapMs = Number(process.hrtime.bigint() - snapT0) / 1e6;
    console.log(`follower + RunModel: ${intoModel.events} events in ${intoModel.seconds.toFixed(2)} s; snapshot ${snapMs.toFixed(1)} ms (${snap.charts.loss.x.length} chart points)`);
    console.log(`  RunModel retained: ${(afterModel.heap - beforeModel.heap).toFixed(1)} MB heap = ${(((afterModel.heap - beforeModel.heap) * MB) / intoModel.events).toFixed(1)} bytes/event; peak rss ${intoModel.peakRss.toFixed(1)} MB`);
    void model;

    // One 10 MB line: first a valid event (a hello with many tensors), then garbage of the same size,
    // then a 20 MB line over the reader's 16 MiB cap; each followed by a normal event.
    const tensors = [];
    for (let i = 0; tensors.length === 0 || JSON.stringify(tensors).length < 10 * MB; i++) {
      for (let j = 0; j < 1000; j++, i++) tensors.push({ name: `h.${i}.mlp.c_fc.weight`, layer: i, group: `block ${i}`, kind: "mlp.in", shape: [128, 32], numel: 4096 });
    }
    const bigHello = JSON.stringify({ v: 1, type: "hello", run_id: "big", method: "hima", device: "cpu", dtype: "float32", max_steps: 10, start_step: 0, cutoffs: { hot: 0.3, warm: 0.6 }, model: { preset: "x", n_params: 1, n_layer: 1 }, config: {}, tensors });
    const step = JSON.stringify({ v: 1, type: "step", step: 1, loss: 1, lr: 1e-3, step_time_ms: 1, tokens_per_s: 1 });
    for (const [label, line] of [
      ["10 MB valid hello", bigHello],
      ["10 MB garbage", `{"v":1,"type":"step","junk":"${"x".repeat(10 * MB)}"}`],
      ["20 MB line (over the 16 MiB cap)", `{"junk":"${"y".repeat(20 * MB)}"}`],
    ] as const) {
      const file = join(dir, `big-${label.length}.jsonl`);
      await writeLog(file, [line, step]);
      const m0 = mem();
      const r = await replay(file, new RunModel());
      const m1 = mem();
      console.log(`${label}: ${(Buffer.byteLength(line) / MB).toFixed(1)} MB line -> ${r.events} events, noise [${r.noise.map((n) => n.slice(0, 60)).join("; ")}] in ${(r.seconds * 1000).toFixed(0)} ms; peak rss ${r.peakRss.toFixed(1)} MB (heap after ${m1.heap.toFixed(1)} MB, was ${m0.heap.toFixed(1)})`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
