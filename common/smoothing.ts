// Debiased exponential moving average, as TensorBoard smooths a scalar series: avg = s·avg + (1-s)·v, divided by
// 1 - s^n so the first points are not pulled towards zero. Applied to the full-resolution series (never to a
// downsampled one, whose smoothing strength would then depend on the run's length). Gaps stay gaps.
export function debiasedEma(values: ArrayLike<number | null>, smoothing: number): Array<number | null> {
  const out: Array<number | null> = new Array(values.length);
  let avg = 0;
  let weight = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || !Number.isFinite(v)) {
      out[i] = null;
      continue;
    }
    avg = smoothing * avg + (1 - smoothing) * v;
    weight = smoothing * weight + (1 - smoothing);
    out[i] = smoothing > 0 ? avg / weight : v;
  }
  return out;
}
