// Full-resolution chart data on the host: one x column (step) and named y columns, appended in O(1)
// per event. The panel gets a downsampled copy, computed only when asked and cached until the data changes;
// the min/max buckets behind it are kept up to date incrementally, so a live update of a 100k-step run costs
// what one of a 1k-step run does.
import type { ChartData } from "../../common/messages";
import { MinMaxBuckets } from "./downsample";

export class ChartBuffer<Name extends string> {
  readonly x: number[] = [];
  private readonly cols: Array<Array<number | null>>;
  private readonly col: Map<string, number>;
  /** Bumped on every change, so callers can tell whether a chart needs re-sending. */
  version = 0;
  private cache: { version: number; maxPoints: number; data: ChartData } | null = null;
  private buckets: MinMaxBuckets | null = null;

  constructor(readonly names: readonly Name[]) {
    this.cols = names.map(() => []);
    this.col = new Map(names.map((n, i) => [n, i]));
  }

  get length(): number {
    return this.x.length;
  }

  /**
   * Sets values in the row at `x`: a new row when x is past the end (the usual case, O(1)); values for
   * the same x are merged into one row (a step's loss and its val loss); an earlier x is found and merged
   * or inserted in order.
   */
  put(x: number, values: Partial<Record<Name, number | null>>): void {
    const n = this.x.length;
    let row: number;
    if (n === 0 || this.x[n - 1] < x) {
      row = n;
      this.insertRow(row, x);
    } else if (this.x[n - 1] === x) {
      row = n - 1;
    } else {
      row = lowerBound(this.x, x);
      if (this.x[row] !== x) this.insertRow(row, x);
    }
    // A row that is already summarised changes (or moves): the buckets are rebuilt at the next data().
    if (this.buckets && row < this.buckets.foldedRows) this.buckets.reset();
    for (const [name, value] of Object.entries(values) as Array<[Name, number | null | undefined]>) {
      if (value === undefined) continue;
      const c = this.col.get(name);
      if (c !== undefined) this.cols[c][row] = value === null || Number.isFinite(value) ? value : null;
    }
    this.version++;
  }

  /** A column at full resolution (row-aligned with `x`); not to be modified. */
  column(name: Name): ReadonlyArray<number | null> {
    return this.cols[this.col.get(name)!];
  }

  /** Replaces a derived column wholesale (e.g. its smoothing changed); `values` is row-aligned with `x`. */
  setColumn(name: Name, values: ReadonlyArray<number | null>): void {
    const c = this.col.get(name)!;
    if (values.length !== this.x.length) throw new RangeError(`setColumn ${name}: ${values.length} values for ${this.x.length} rows`);
    this.cols[c] = values.slice();
    this.buckets?.reset();
    this.version++;
  }

  /** Drops rows after `x` (a resumed run starts again from its checkpoint's step). */
  truncateAfter(x: number): void {
    const cut = upperBound(this.x, x);
    if (cut >= this.x.length) return;
    this.x.length = cut;
    for (const c of this.cols) c.length = cut;
    this.buckets?.reset();
    this.version++;
  }

  /** The chart as the panel draws it: at most maxPoints rows. */
  data(maxPoints: number): ChartData {
    if (this.cache && this.cache.version === this.version && this.cache.maxPoints === maxPoints) return this.cache.data;
    if (this.buckets?.maxPoints !== maxPoints) this.buckets = new MinMaxBuckets(maxPoints, this.cols.length);
    const d = this.buckets.output(this.x, this.cols);
    const series: Record<string, Array<number | null>> = {};
    this.names.forEach((name, i) => (series[name] = d.ys[i]));
    const data: ChartData = { x: d.x, series };
    this.cache = { version: this.version, maxPoints, data };
    return data;
  }

  private insertRow(row: number, x: number): void {
    if (row === this.x.length) {
      this.x.push(x);
      for (const c of this.cols) c.push(null);
    } else {
      this.x.splice(row, 0, x);
      for (const c of this.cols) c.splice(row, 0, null);
    }
  }
}

/** First index whose value is >= x (x sorted ascending). */
function lowerBound(xs: number[], x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index whose value is > x (x sorted ascending). */
function upperBound(xs: number[], x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
