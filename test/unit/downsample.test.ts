import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { downsampleMinMax } from "../../src/run/downsample";

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

test("at most maxPoints rows; first and latest point exact; x stays ordered; extremes and only real values kept", () => {
  fc.assert(
    fc.property(chart, fc.integer({ min: 2, max: 60 }), ({ x, ys }, maxPoints) => {
      const out = downsampleMinMax(x, ys, maxPoints);
      assert.ok(out.x.length <= Math.max(maxPoints, 0));
      assert.equal(out.ys.length, ys.length);
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
        // With 4 rows or more there is at least one bucket, so nothing in between can be lost.
        if (inY.length && maxPoints >= 4) {
          assert.ok(outY.includes(Math.min(...inY)), "global minimum survives");
          assert.ok(outY.includes(Math.max(...inY)), "global maximum survives");
        }
        const present = new Set(inY);
        for (const v of outY) assert.ok(present.has(v), "no invented values");
      });
    }),
    { numRuns: 300 },
  );
});

test("short series come back unchanged, as copies", () => {
  const x = [1, 2, 3];
  const ys = [[1, null, 3]];
  const out = downsampleMinMax(x, ys, 3);
  assert.deepEqual(out, { x, ys });
  assert.notEqual(out.x, x);
  assert.notEqual(out.ys[0], ys[0]);
});

test("a spike in a long run survives downsampling", () => {
  const n = 100_000;
  const x = Array.from({ length: n }, (_, i) => i + 1);
  const loss = x.map((s) => (s === 54_321 ? 99 : 3 + Math.sin(s / 100) * 0.01));
  const out = downsampleMinMax(x, [loss], 1000);
  assert.ok(out.x.length <= 1000);
  assert.ok(out.x.length >= 990, "uses the budget");
  const i = out.ys[0].indexOf(99);
  assert.ok(i > 0, "spike kept");
  assert.ok(Math.abs(out.x[i] - 54_321) <= n / 490, "near its step");
  assert.equal(out.x.at(-1), n);
});

test("bad arguments are refused with a clear error", () => {
  assert.throws(() => downsampleMinMax([1, 2, 3], [[1, 2, 3]], 1), /maxPoints must be an integer >= 2/);
  assert.throws(() => downsampleMinMax([1, 2, 3], [[1, 2]], 10), /series length 2 differs from x length 3/);
});
