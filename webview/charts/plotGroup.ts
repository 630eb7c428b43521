// Charts that move together: one cursor (hovering one chart shows the same x on all), one x range (a drag-zoom
// on any chart zooms all of them, and it survives live updates: uPlot's setData would reset it), and, while not
// zoomed, the same x extent on every chart (a chart whose series ends earlier does not stretch its last point
// to the right edge). A double-click anywhere goes back to the whole run.
import type uPlot from "uplot";

let groups = 0;

export interface XRange {
  min: number;
  max: number;
}

export class PlotGroup {
  private readonly plots = new Set<uPlot>();
  /** Plots whose data was just set (uPlot re-ranged them): they need the group's range again. */
  private readonly fresh = new Set<uPlot>();
  private zoom: XRange | null = null;
  readonly syncKey = `hima-plots-${++groups}`;

  /** The user's zoom, or null when the charts show the whole x extent. */
  get range(): XRange | null {
    return this.zoom;
  }

  /** Options a chart of this group needs (merge into its uPlot options). */
  options(): Pick<uPlot.Options, "cursor" | "hooks"> {
    return {
      // drag.setScale false: a drag only selects; the setSelect hook turns it into the group's zoom.
      cursor: { sync: { key: this.syncKey, setSeries: false }, drag: { x: true, y: false, setScale: false } },
      hooks: {
        setSelect: [(u) => this.onSelect(u)],
        // The x range a chart shows, readable by tests and the benchmark (axes are drawn on canvas).
        setScale: [(u, key) => {
          if (key !== "x") return;
          u.root.dataset.xMin = String(u.scales.x.min);
          u.root.dataset.xMax = String(u.scales.x.max);
        }],
        ready: [(u) => u.over.addEventListener("dblclick", () => this.resetZoom())],
      },
    };
  }

  add(u: uPlot): void {
    this.plots.add(u);
    this.fresh.add(u);
    this.apply();
  }

  remove(u: uPlot): void {
    this.plots.delete(u);
    this.fresh.delete(u);
  }

  /** New data for one chart, keeping the group's x range. */
  setData(u: uPlot, data: uPlot.AlignedData): void {
    u.setData(data);
    this.fresh.add(u);
    this.apply();
  }

  resetZoom(): void {
    this.zoom = null;
    this.apply();
  }

  /** Zooms every chart to [min, max] (tests and keyboard users; a drag does the same). */
  zoomTo(range: XRange): void {
    if (!(range.max > range.min)) return;
    this.zoom = { ...range };
    this.apply();
  }

  /** The x extent over every chart's data. */
  extent(): XRange | null {
    let min = Infinity;
    let max = -Infinity;
    for (const u of this.plots) {
      const x = u.data[0];
      if (!x || x.length === 0) continue;
      min = Math.min(min, x[0]);
      max = Math.max(max, x[x.length - 1]);
    }
    return Number.isFinite(min) && Number.isFinite(max) ? { min, max: max > min ? max : min + 1 } : null;
  }

  /** Sets every chart's x scale to the zoom, or to the common extent. */
  apply(): void {
    const r = this.zoom ?? this.extent();
    if (!r) return;
    for (const u of this.plots) {
      // A chart already showing the range is left alone: a live update then redraws only the charts it changed.
      if (!this.fresh.has(u) && u.scales.x.min === r.min && u.scales.x.max === r.max) continue;
      if (u.data[0]?.length) u.setScale("x", { min: r.min, max: r.max });
    }
    this.fresh.clear();
  }

  private onSelect(u: uPlot): void {
    const s = u.select;
    if (s.width < 2) return;
    const min = u.posToVal(s.left, "x");
    const max = u.posToVal(s.left + s.width, "x");
    u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
    this.zoomTo({ min, max });
  }
}

/** Shows each series' latest value in the legend while the cursor is not over the chart (instead of "—"). */
export function legendAtEnd(u: uPlot): void {
  if ((u.cursor.left ?? -1) >= 0) return;
  const idxs = u.data.map((ys, s) => {
    if (s === 0) return null;
    for (let i = ys.length - 1; i >= 0; i--) if (ys[i] !== null && ys[i] !== undefined) return i;
    return null;
  });
  const latest = Math.max(-1, ...idxs.map((i) => i ?? -1));
  if (latest < 0) return;
  idxs[0] = latest; // the x entry shows the latest step
  u.setLegend({ idxs }, false);
}
