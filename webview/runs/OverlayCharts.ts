// The comparison's charts: one uPlot chart per quantity with one line per run (one colour per run, the same in
// every chart and in the summary table), x by step or by training clock (the time-to-quality view). The charts
// are one PlotGroup: shared cursor, shared zoom (kept when the data is refreshed), double-click resets.
// Tier shares change only at a re-tier, so they are drawn as steps, not slopes.
import uPlot from "uplot";
import type { CompareChartName, CompareView, OverlaySeries } from "../../common/runsMessages";
import { formatBytes } from "../../common/formatBytes";
import { PlotGroup, legendAtEnd } from "../charts/plotGroup";
import type { Theme } from "../theme";
import { chartPng } from "../charts/png";

export type XMode = "step" | "time";

interface ChartSpec {
  name: CompareChartName;
  title: string;
  format: (v: number) => string;
  stepped?: boolean;
  points?: boolean;
}

const num = (v: number) => {
  const a = Math.abs(v);
  if (a >= 1e6) return `${Number((v / 1e6).toPrecision(3))}M`;
  if (a >= 1e3) return `${Number((v / 1e3).toPrecision(3))}k`;
  return a === 0 ? "0" : String(Number(v.toPrecision(3)));
};
const share = (v: number) => `${(100 * v).toFixed(0)}%`;

export const SPECS: ChartSpec[] = [
  { name: "loss_smoothed", title: "Loss (smoothed)", format: num },
  { name: "loss", title: "Loss (raw)", format: num },
  { name: "val_loss", title: "Val loss", format: num, points: true },
  { name: "tokens_per_s", title: "Tokens / s (smoothed)", format: num },
  { name: "memory", title: "Peak memory", format: (v) => formatBytes(v) },
  { name: "state", title: "Optimizer state", format: (v) => formatBytes(v) },
  { name: "cold_share", title: "Cold share (elements)", format: share, stepped: true },
  { name: "hot_share", title: "Hot share (elements)", format: share, stepped: true },
];

export function runColor(theme: Theme, i: number): string {
  return theme.series[i % theme.series.length];
}

/** Seconds on the training clock as a short axis label. */
function clockLabel(s: number): string {
  if (s < 120) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  if (s < 7200) return `${(s / 60).toFixed(0)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

/** One chart's series of every run on one x column (uPlot.join fills the gaps with null). */
export function joinRuns(series: OverlaySeries[], x: XMode): uPlot.AlignedData {
  const tables = series.map((s) => [x === "step" ? s.step : s.wall, s.value] as uPlot.AlignedData);
  if (tables.length === 0) return [[]];
  return uPlot.join(tables);
}

class OverlayChart {
  readonly element = document.createElement("div");
  private readonly host = document.createElement("div");
  private plot: uPlot | null = null;

  constructor(readonly spec: ChartSpec, private readonly group: PlotGroup, savePng: (name: string, url: string) => void) {
    this.element.className = "chart overlay-chart";
    this.element.dataset.chart = spec.name;
    const h = document.createElement("h3");
    const title = document.createElement("span");
    title.textContent = spec.title;
    const png = document.createElement("button");
    png.className = "link-button";
    png.textContent = "PNG";
    png.title = `Save “${spec.title}” as PNG`;
    png.dataset.testid = `png-${spec.name}`;
    png.addEventListener("click", () => {
      if (this.plot) savePng(`${spec.name}.png`, chartPng(this.plot, spec.title));
    });
    h.append(title, png);
    this.element.append(h, this.host);
  }

  render(view: CompareView, x: XMode, theme: Theme, title: string): void {
    (this.element.querySelector("h3 span") as HTMLElement).textContent = title;
    const data = joinRuns(view.charts[this.spec.name], x);
    const points = view.charts[this.spec.name].reduce((n, s) => n + s.value.length, 0);
    this.element.dataset.points = String(points);
    this.element.dataset.runs = String(view.runs.length);
    this.element.hidden = points === 0;
    if (this.plot) {
      this.group.remove(this.plot);
      this.plot.destroy();
    }
    const axis = { stroke: theme.muted, grid: { stroke: theme.border, width: 1 }, ticks: { stroke: theme.border, width: 1 }, size: 40 };
    const stepped = uPlot.paths.stepped!({ align: 1 });
    const series: uPlot.Series[] = [{ label: x === "step" ? "step" : "time", value: (_u, v) => (v === null ? "—" : x === "step" ? String(Math.round(v)) : clockLabel(v)) }];
    view.runs.forEach((r, i) => {
      const color = runColor(theme, i);
      series.push({
        label: r.name,
        stroke: color,
        width: this.spec.name === "loss" ? 1 : 1.5,
        spanGaps: true,
        value: (_u, v) => (v === null || v === undefined ? "—" : this.spec.format(v)),
        ...(this.spec.stepped ? { paths: stepped } : {}),
        points: this.spec.points ? { show: true, size: 5, fill: color, stroke: color } : { show: false },
      });
    });
    const opts = this.group.options();
    this.plot = new uPlot(
      {
        width: Math.max(200, this.element.clientWidth - 4 || 600),
        height: 170,
        series,
        scales: { x: { time: false } },
        axes: [
          { ...axis, values: (_u, vals) => vals.map((v) => (v === null ? "" : x === "step" ? num(v) : clockLabel(v))) },
          { ...axis, size: 70, values: (_u, vals) => vals.map((v) => (v === null ? "" : this.spec.format(v))) },
        ],
        legend: { show: true, live: true },
        cursor: opts.cursor,
        hooks: { ...opts.hooks, setCursor: [legendAtEnd] },
      },
      data,
      this.host,
    );
    this.plot.over.addEventListener("mouseleave", () => queueMicrotask(() => this.plot && legendAtEnd(this.plot)));
    this.group.add(this.plot);
    legendAtEnd(this.plot);
  }

  resize(): void {
    this.plot?.setSize({ width: Math.max(200, this.element.clientWidth - 4), height: 170 });
  }

  get uplot(): uPlot | null {
    return this.plot;
  }
}

export class OverlayCharts {
  readonly element = document.createElement("div");
  readonly group = new PlotGroup();
  private readonly charts: OverlayChart[];

  constructor(savePng: (name: string, url: string) => void) {
    this.element.className = "overlay-charts";
    this.charts = SPECS.map((s) => new OverlayChart(s, this.group, savePng));
    this.element.append(...this.charts.map((c) => c.element));
    new ResizeObserver(() => this.charts.forEach((c) => c.resize())).observe(this.element);
  }

  render(view: CompareView, x: XMode, theme: Theme): void {
    const zoom = this.group.range;
    for (const c of this.charts) {
      const title = c.spec.name === "memory" && view.memoryKind === "resident" ? "Peak memory (resident set, CPU)" : c.spec.name === "loss_smoothed" ? `Loss (smoothed ${view.smoothing.toFixed(2)})` : c.spec.title;
      c.render(view, x, theme, title);
    }
    if (zoom) this.group.zoomTo(zoom);
  }

  plot(name: CompareChartName): uPlot | null {
    return this.charts.find((c) => c.spec.name === name)?.uplot ?? null;
  }
}
