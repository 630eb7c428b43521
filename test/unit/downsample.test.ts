import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { MinMaxBuckets } from "../../src/run/downsample";
import { ChartBuffer } from "../../src/run/ChartBuffer";

const value = fc.oneof({ weight: 5, arbitrary: fc.double({ min: -1e6, max: 1e6, noNaN: true }) }, { weight: 1, arbitrary: fc.constant(null) });
/** A chart: sorted x and 1..4 series of the same length. */
const chart = fc.integer({ min: 0, max: 400 }).chain((n) =>
  fc.record({
    x: fc.array(fc.integer({ min: 0, max: 5 }), { minLength: n, maxLength: n }).map((steps) => {
      let acc = 0;
      return steps.map((d) => (acc += d + 1));
    }),
    ys: fc.array(fc.array(value, { minLength: n, maxLength: n }), { minLength: 1, maxLength: 4 }),
  }),
);

const finite = (ys: Array<number | null>) => ys.filter((v): v is number => v !== null);

/** A chart downsampled at once (the panel's ChartBuffer asks the same buckets as rows arrive). */
const downsampleAtOnce = (x: number[], ys: Array<Array<number | null>>, maxPoints: number) => new MinMaxBuckets(maxPoints, ys.length).output(x, ys);

test("at most maxPoints rows; first and latest point exact; x stays ordered; extremes and only real values kept", () => {
  fc.assert(
    fc.property(chart, fc.integer({ min: 2, max: 60 }), ({ x, ys }, maxPoints) => {
      const out = downsampleAtOnce(x, ys, maxPoints);
      assert.equal(out.ys.length, ys.length);
      assertDownsampled(x, ys, out, maxPoints);
    }),
    { numRuns: 300 },
  );
});

test("short series come back unchanged, as copies", () => {
  const x = [1, 2, 3];
  const ys = [[1, null, 3]];
  const out = downsampleAtOnce(x, ys, 3);
  assert.deepEqual(out, { x, ys });
  assert.notEqual(out.x, x);
  assert.notEqual(out.ys[0], ys[0]);
});

test("a spike in a long run survives downsampling", () => {
  const n = 100_000;
  const x = Array.from({ length: n }, (_, i) => i + 1);
  const loss = x.map((s) => (s === 54_321 ? 99 : 3 + Math.sin(s / 100) * 0.01));
  const buckets = new MinMaxBuckets(1000, 1);
  const out = buckets.output(x, [loss]);
  assert.ok(out.x.length <= 1000);
  assert.ok(out.x.length >= 500, "uses at least half the budget");
  const i = out.ys[0].indexOf(99);
  assert.ok(i > 0, "spike kept");
  assert.ok(Math.abs(out.x[i] - 54_321) < buckets.bucketWidth, "drawn at an edge of its bucket");
  assert.equal(out.x.at(-1), n);
});

test("bad arguments are refused with a clear error", () => {
  assert.throws(() => new MinMaxBuckets(1, 1), /maxPoints must be an integer >= 2/);
  assert.throws(() => new MinMaxBuckets(10, 2).output([1, 2, 3], [[1, 2, 3]]), /expected 2 series, got 1/);
});

/** Properties every downsampled chart must have, whichever way it was computed. */
function assertDownsampled(x: number[], ys: Array<Array<number | null>>, out: { x: number[]; ys: Array<Array<number | null>> }, maxPoints: number): void {
  assert.ok(out.x.length <= maxPoints, `${out.x.length} rows > ${maxPoints}`);
  for (const y of out.ys) assert.equal(y.length, out.x.length);
  if (x.length === 0) return;
  assert.equal(out.x[0], x[0]);
  assert.equal(out.x.at(-1), x.at(-1));
  for (let i = 1; i < out.x.length; i++) assert.ok(out.x[i] >= out.x[i - 1], "x non-decreasing");
  ys.forEach((y, s) => {
    assert.equal(out.ys[s][0], y[0], "first point kept");
    assert.equal(out.ys[s].at(-1), y.at(-1), "latest point kept");
    const inY = finite(y);
    const outY = finite(out.ys[s]);
    if (inY.length && maxPoints >= 4) {
      assert.ok(outY.includes(Math.min(...inY)), "global minimum survives");
      assert.ok(outY.includes(Math.max(...inY)), "global maximum survives");
    }
    const present = new Set(inY);
    for (const v of outY) assert.ok(present.has(v), "no invented values");
  });
}

test("incremental buckets: same guarantees as the one-shot downsampling, and asking along the way changes nothing", () => {
  fc.assert(
    fc.property(chart, fc.integer({ min: 2, max: 60 }), fc.array(fc.integer({ min: 0, max: 400 }), { maxLength: 6 }), ({ x, ys }, maxPoints, askAt) => {
      const live = new MinMaxBuckets(maxPoints, ys.length);
      // The live chart is read at arbitrary points while rows arrive, as the panel's updates do.
      for (const n of askAt.filter((k) => k <= x.length).sort((a, b) => a - b)) {
        const part = live.output(x.slice(0, n), ys.map((y) => y.slice(0, n)));
        assertDownsampled(x.slice(0, n), ys.map((y) => y.slice(0, n)), part, maxPoints);
      }
      const out = live.output(x, ys);
      assertDownsampled(x, ys, out, maxPoints);
      assert.deepEqual(out, new MinMaxBuckets(maxPoints, ys.length).output(x, ys), "incremental equals computed at once");
      if (x.length > maxPoints && maxPoints >= 6) assert.ok(out.x.length >= maxPoints / 2 - 1, `uses at least half the budget: ${out.x.length} of ${maxPoints}`);
    }),
    { numRuns: 300 },
  );
});

test("ChartBuffer: live appends, a late value for an old step and a truncation give the chart a fresh buffer would", () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ x: fc.integer({ min: 0, max: 300 }), a: value, b: value, read: fc.boolean() }), { maxLength: 300 }),
      fc.integer({ min: 2, max: 40 }),
      fc.option(fc.integer({ min: 0, max: 300 })),
      (puts, maxPoints, truncateAt) => {
        const live = new ChartBuffer(["a", "b"] as const);
        const rows = new Map<number, { a: number | null; b: number | null }>(); // what the chart should hold
        for (const p of puts) {
          live.put(p.x, { a: p.a, b: p.b });
          rows.set(p.x, { a: p.a, b: p.b });
          if (p.read) live.data(maxPoints);
        }
        if (truncateAt !== null) {
          live.truncateAfter(truncateAt);
          for (const x of rows.keys()) if (x > truncateAt) rows.delete(x);
        }
        const xs = [...rows.keys()].sort((p, q) => p - q);
        const fresh = new ChartBuffer(["a", "b"] as const);
        for (const x of xs) fresh.put(x, rows.get(x)!);
        const d = live.data(maxPoints);
        assert.deepEqual(d, fresh.data(maxPoints));
        const cols = [xs.map((x) => rows.get(x)!.a), xs.map((x) => rows.get(x)!.b)];
        assertDownsampled(xs, cols, { x: d.x, ys: [d.series.a, d.series.b] }, maxPoints);
      },
    ),
    { numRuns: 200 },
  );
});

test("a live 100k-step chart: each update costs the same as early in the run (no re-scan of the history)", () => {
  const buf = new ChartBuffer(["loss"] as const);
  const timeUpdates = (from: number, to: number) => {
    const t0 = performance.now();
    for (let s = from; s < to; s++) {
      buf.put(s, { loss: 3 + Math.sin(s) });
      buf.data(1000);
    }
    return (performance.now() - t0) / (to - from);
  };
  timeUpdates(1, 20_000); // warm up the JIT
  const early = timeUpdates(20_000, 20_200);
  for (let s = 20_200; s < 100_000; s++) buf.put(s, { loss: 3 });
  const late = timeUpdates(100_000, 100_200);
  // A full re-downsample of 100k rows per update takes milliseconds; the incremental path is ~1000 rows of output.
  assert.ok(late < Math.max(4 * early, 0.5), `per update: ${early.toFixed(3)} ms at 20k steps, ${late.toFixed(3)} ms at 100k steps`);
  const d = buf.data(1000);
  assert.ok(d.x.length <= 1000 && d.x.length >= 500, `${d.x.length} rows`);
  assert.equal(d.x.at(-1), 100_199);
});

