// Debiased exponential moving average, as TensorBoard smooths a scalar series: avg = s·avg + (1-s)·v, divided by
// 1 - s^n so the first points are not pulled towards zero. Applied to the full-resolution series (never to a
// downsampled one, whose smoothing strength would then depend on the run's length). Gaps stay gaps.

/** The running state, for a series that grows one point at a time (a live run). */
export class DebiasedEma {
  private avg = 0;
  private weight = 0;

  constructor(readonly smoothing: number) {}

  /** Folds in the next value and returns the smoothed value there (null for a gap, which is skipped). */
  push(v: number | null | undefined): number | null {
    if (v === null || v === undefined || !Number.isFinite(v)) return null;
    const s = this.smoothing;
    this.avg = s * this.avg + (1 - s) * v;
    this.weight = s * this.weight + (1 - s);
    return s > 0 ? this.avg / this.weight : v;
  }
}

export function debiasedEma(values: ArrayLike<number | null>, smoothing: number): Array<number | null> {
  const ema = new DebiasedEma(smoothing);
  const out: Array<number | null> = new Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = ema.push(values[i]);
  return out;
}
