// Min/max downsampling for charts: a long run keeps every point on the host, and the panel gets at most
// `maxPoints` rows per chart. Each bucket of rows becomes two rows holding, per series, the bucket's
// minimum and maximum in the order they occurred, so spikes survive. The first and the latest point are
// kept exactly (the latest is what the user is watching).

export interface Downsampled {
  x: number[];
  ys: Array<Array<number | null>>;
}

export function downsampleMinMax(x: number[], ys: Array<Array<number | null>>, maxPoints: number): Downsampled {
  if (!Number.isInteger(maxPoints) || maxPoints < 2) throw new RangeError(`maxPoints must be an integer >= 2, got ${maxPoints}`);
  for (const y of ys) {
    if (y.length !== x.length) throw new RangeError(`series length ${y.length} differs from x length ${x.length}`);
  }
  const n = x.length;
  if (n <= maxPoints) return { x: x.slice(), ys: ys.map((y) => y.slice()) };

  const buckets = Math.floor((maxPoints - 2) / 2);
  const outX: number[] = [x[0]];
  const outYs = ys.map((y) => [y[0]] as Array<number | null>);
  const interior = n - 2; // rows 1 .. n-2 are bucketed
  for (let b = 0; b < buckets; b++) {
    const lo = 1 + Math.floor((b * interior) / buckets);
    const hi = 1 + Math.floor(((b + 1) * interior) / buckets); // exclusive
    if (hi <= lo) continue;
    if (hi - lo === 1) {
      outX.push(x[lo]);
      ys.forEach((y, s) => outYs[s].push(y[lo]));
      continue;
    }
    // Two rows per bucket, at the bucket's first and last x.
    outX.push(x[lo], x[hi - 1]);
    ys.forEach((y, s) => {
      let minI = -1;
      let maxI = -1;
      for (let i = lo; i < hi; i++) {
        const v = y[i];
        if (v === null || Number.isNaN(v)) continue;
        if (minI < 0 || v < (y[minI] as number)) minI = i;
        if (maxI < 0 || v > (y[maxI] as number)) maxI = i;
      }
      const out = outYs[s];
      if (minI < 0) out.push(null, null);
      else if (minI === maxI) out.push(y[minI], null); // a lone value (e.g. a sparse val loss) stays one point
      else if (minI < maxI) out.push(y[minI], y[maxI]);
      else out.push(y[maxI], y[minI]);
    });
  }
  outX.push(x[n - 1]);
  ys.forEach((y, s) => outYs[s].push(y[n - 1]));
  return { x: outX, ys: outYs };
}
