// Min/max downsampling for charts: a long run keeps every point on the host, and the panel gets at most
// `maxPoints` rows per chart. Each bucket of rows becomes two rows holding, per series, the bucket's
// minimum and maximum in the order they occurred, so spikes survive. The first and the latest point are
// kept exactly (the latest is what the user is watching).

export interface Downsampled {
  x: number[];
  ys: Array<Array<number | null>>;
}

/**
 * Min/max downsampling kept up to date as rows are appended, so a chart of a long run costs the same
 * per update as a short one. Interior rows are folded into buckets of `width` rows (a power of two); when one
 * more bucket would not fit in maxPoints, neighbours are merged pairwise and the width doubles. Folding is
 * O(series) per row, amortised; output is O(maxPoints * series) whatever the run length. Between
 * maxPoints/2 and maxPoints rows are used once the run is longer than maxPoints.
 *
 * Folded rows must not change afterwards: a caller that edits or inserts a row before `foldedRows` calls
 * reset() (rare: a late value for an old step, a resumed run).
 */
export class MinMaxBuckets {
  /** Buckets that fit: the first and the latest row take one row each, a bucket takes two. */
  private readonly capacity: number;
  private width = 1;
  private folded = 1;
  private starts: number[] = [];
  private ends: number[] = [];
  /** Per series, per bucket: the row of its minimum / maximum (first occurrence), -1 when it has no value. */
  private minAt: number[][] = [];
  private maxAt: number[][] = [];

  constructor(
    readonly maxPoints: number,
    private readonly seriesCount: number,
  ) {
    if (!Number.isInteger(maxPoints) || maxPoints < 2) throw new RangeError(`maxPoints must be an integer >= 2, got ${maxPoints}`);
    this.capacity = Math.floor((maxPoints - 2) / 2);
    this.reset();
  }

  /** Rows [0, foldedRows) are summarised; they must not change without a reset(). */
  get foldedRows(): number {
    return this.folded;
  }

  get bucketWidth(): number {
    return this.width;
  }

  reset(): void {
    this.width = 1;
    this.folded = 1;
    this.starts = [];
    this.ends = [];
    this.minAt = Array.from({ length: this.seriesCount }, () => []);
    this.maxAt = Array.from({ length: this.seriesCount }, () => []);
  }

  /** The chart for rows x/ys (the same rows as before, plus appended ones): at most maxPoints rows. */
  output(x: number[], ys: Array<Array<number | null>>): Downsampled {
    if (ys.length !== this.seriesCount) throw new RangeError(`expected ${this.seriesCount} series, got ${ys.length}`);
    const n = x.length;
    if (n <= this.maxPoints) return { x: x.slice(), ys: ys.map((y) => y.slice()) };
    for (; this.folded < n - 1; this.folded++) this.fold(this.folded, ys);

    const outX: number[] = [x[0]];
    const outYs = ys.map((y) => [y[0]] as Array<number | null>);
    for (let b = 0; b < this.starts.length; b++) {
      const lo = this.starts[b];
      const hi = this.ends[b];
      if (hi - lo === 1) {
        outX.push(x[lo]);
        ys.forEach((y, s) => outYs[s].push(y[lo]));
        continue;
      }
      outX.push(x[lo], x[hi - 1]);
      ys.forEach((y, s) => {
        const minI = this.minAt[s][b];
        const maxI = this.maxAt[s][b];
        const out = outYs[s];
        if (minI < 0) out.push(null, null);
        else if (minI === maxI) out.push(y[minI], null);
        else if (minI < maxI) out.push(y[minI], y[maxI]);
        else out.push(y[maxI], y[minI]);
      });
    }
    outX.push(x[n - 1]);
    ys.forEach((y, s) => outYs[s].push(y[n - 1]));
    return { x: outX, ys: outYs };
  }

  private fold(row: number, ys: Array<Array<number | null>>): void {
    if (this.capacity === 0) return; // only the first and the latest row fit
    let b = this.starts.length - 1;
    if (b < 0 || this.ends[b] - this.starts[b] === this.width) {
      if (this.starts.length === this.capacity) this.mergePairs(ys);
      b = this.starts.length - 1;
      if (b < 0 || this.ends[b] - this.starts[b] === this.width) {
        this.starts.push(row);
        this.ends.push(row);
        for (let s = 0; s < this.seriesCount; s++) {
          this.minAt[s].push(-1);
          this.maxAt[s].push(-1);
        }
        b++;
      }
    }
    this.ends[b] = row + 1;
    for (let s = 0; s < this.seriesCount; s++) {
      const y = ys[s];
      const v = y[row];
      if (v === null || Number.isNaN(v)) continue;
      const minI = this.minAt[s][b];
      const maxI = this.maxAt[s][b];
      if (minI < 0 || v < (y[minI] as number)) this.minAt[s][b] = row;
      if (maxI < 0 || v > (y[maxI] as number)) this.maxAt[s][b] = row;
    }
  }

  /** Halves the bucket count: buckets 2i and 2i+1 become bucket i (the earlier extreme wins a tie). */
  private mergePairs(ys: Array<Array<number | null>>): void {
    const count = this.starts.length;
    const half = Math.ceil(count / 2);
    for (let i = 0; i < half; i++) {
      const a = 2 * i;
      const c = a + 1 < count ? a + 1 : a;
      this.starts[i] = this.starts[a];
      this.ends[i] = this.ends[c];
      for (let s = 0; s < this.seriesCount; s++) {
        const y = ys[s];
        this.minAt[s][i] = pick(y, this.minAt[s][a], this.minAt[s][c], (p, q) => q < p);
        this.maxAt[s][i] = pick(y, this.maxAt[s][a], this.maxAt[s][c], (p, q) => q > p);
      }
    }
    this.starts.length = half;
    this.ends.length = half;
    for (let s = 0; s < this.seriesCount; s++) {
      this.minAt[s].length = half;
      this.maxAt[s].length = half;
    }
    this.width *= 2;
  }
}

/** The row of the extreme of two candidates (-1: none); `later` wins only when `better(earlier, later)`. */
function pick(y: Array<number | null>, earlier: number, later: number, better: (p: number, q: number) => boolean): number {
  if (earlier < 0) return later;
  if (later < 0 || later === earlier) return earlier;
  return better(y[earlier] as number, y[later] as number) ? later : earlier;
}
