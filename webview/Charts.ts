// The panel's uPlot charts: loss (raw, EMA, validation points; log-y toggle), tokens/s, memory, optimizer state,
// tier counts. Optimizer state has its own chart (and y axis): on a CPU run the process RSS is gigabytes while
// the state is megabytes, and on one axis the Hot/Warm/Cold split and the evicted bytes would be flat lines.
// The host sends downsampled series; the EMA is computed here so the smoothing slider needs no round trip.
// Charts are rebuilt only on theme change, log-y toggle or a change in which series have data; otherwise setData.
import uPlot from "uplot";
import "@vscode-elements/elements/dist/vscode-checkbox/index.js";
import type { ChartData, Charts as ChartsData } from "../common/messages";
import type { Theme } from "./theme";
import { formatBytes, formatCount } from "./format";

type SeriesSpec = { key: string; label: string; color: (t: Theme) => string; points?: boolean; dash?: number[] };

const HEIGHT = 150;

/** Exponential moving average with bias correction (as TensorBoard does), skipping gaps. */
export function ema(values: Array<number | null>, smoothing: number): Array<number | null> {
  let avg = 0;
  let n = 0;
  return values.map((v) => {
    if (v === null || !Number.isFinite(v)) return null;
    avg = smoothing * avg + (1 - smoothing) * v;
    n++;
    return smoothing > 0 ? avg / (1 - Math.pow(smoothing, n)) : v;
  });
}

function sameSeries(a: ReadonlyArray<number | null>, b: ReadonlyArray<number | null>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function sameChartData(a: ChartData, b: ChartData): boolean {
  const keys = Object.keys(b.series);
  return sameSeries(a.x, b.x) && keys.length === Object.keys(a.series).length && keys.every((k) => a.series[k] !== undefined && sameSeries(a.series[k], b.series[k]));
}

class Chart {
  readonly element = document.createElement("div");
  private readonly plotHost = document.createElement("div");
  private plot: uPlot | null = null;
  private shownKeys = "";
  private data: ChartData = { x: [], series: {} };
  private readonly titleText = document.createElement("span");

  constructor(
    readonly name: string,
    /** Which chart of the host's data it draws (two panel charts can draw columns of the same one). */
    readonly source: keyof ChartsData,
    readonly title: string,
    private readonly specs: SeriesSpec[],
    private readonly yFormat: (v: number) => string,
    private theme: Theme,
    private readonly transform: (d: ChartData) => ChartData = (d) => d,
    private logY = false,
  ) {
    this.element.className = "chart";
    this.element.dataset.chart = name;
    this.element.dataset.points = "0";
    this.element.dataset.series = "";
    const h = document.createElement("h3");
    this.titleText.textContent = title;
    h.append(this.titleText);
    this.element.append(h, this.plotHost);
  }

  /** Changes the heading's text, keeping its controls. */
  setTitle(text: string): void {
    this.titleText.textContent = text;
  }

  /** Appends a control (smoothing slider, log toggle) to the chart's heading row. */
  addControl(control: HTMLElement): void {
    this.element.querySelector("h3")!.append(control);
  }

  setData(data: ChartData): void {
    // The host re-sends every chart when any of them changed; redrawing an unchanged one is wasted paint.
    if (sameChartData(this.data, data) && this.plot) return;
    this.data = data;
    this.render();
  }

  setTheme(theme: Theme): void {
    this.theme = theme;
    this.rebuild();
  }

  setLogY(logY: boolean): void {
    this.logY = logY;
    this.rebuild();
  }

  resize(): void {
    this.plot?.setSize({ width: this.width(), height: HEIGHT });
  }

  render(): void {
    const d = this.transform(this.data);
    const keys = this.specs.filter((s) => d.series[s.key]?.some((v) => v !== null)).map((s) => s.key);
    if (keys.join() !== this.shownKeys || !this.plot) {
      this.shownKeys = keys.join();
      this.element.dataset.series = this.shownKeys;
      this.rebuild();
      return;
    }
    this.plot.setData(this.aligned(d, keys));
    this.element.dataset.points = String(d.x.length);
  }

  private width(): number {
    return Math.max(120, this.element.clientWidth - 4);
  }

  private aligned(d: ChartData, keys: string[]): uPlot.AlignedData {
    const ys = keys.map((k) => {
      const s = d.series[k];
      // Log scales cannot show zero or negative values; those become gaps.
      return this.logY ? s.map((v) => (v !== null && v > 0 ? v : null)) : s;
    });
    return [d.x, ...ys] as uPlot.AlignedData;
  }

  private rebuild(): void {
    this.plot?.destroy();
    this.plot = null;
    const d = this.transform(this.data);
    const keys = this.shownKeys ? this.shownKeys.split(",") : [];
    const t = this.theme;
    const axis = { stroke: t.muted, grid: { stroke: t.border, width: 1 }, ticks: { stroke: t.border, width: 1 } };
    const series: uPlot.Series[] = [{ label: "step" }];
    for (const key of keys) {
      const spec = this.specs.find((s) => s.key === key)!;
      const color = spec.color(t);
      series.push({
        label: spec.label,
        stroke: color,
        width: 1.5,
        dash: spec.dash,
        spanGaps: !spec.points,
        value: (_u, v) => (v === null || v === undefined ? "—" : this.yFormat(v)),
        ...(spec.points ? { paths: () => null, points: { show: true, size: 6, stroke: color, fill: color } } : { points: { show: false } }),
      });
    }
    this.plot = new uPlot(
      {
        width: this.width(),
        height: HEIGHT,
        series,
        scales: { x: { time: false }, y: this.logY ? { distr: 3 } : {} },
        axes: [axis, { ...axis, size: 64, values: (_u, vals) => vals.map((v) => (v === null ? "" : this.yFormat(v))) }],
        legend: { show: true },
        cursor: { drag: { x: true, y: false } },
      },
      this.aligned(d, keys),
      this.plotHost,
    );
    this.element.dataset.points = String(d.x.length);
  }
}

export class Charts {
  readonly element = document.createElement("section");
  private readonly charts: Chart[];
  private smoothing = 0.9;

  constructor(theme: Theme) {
    this.element.className = "charts";
    const s = (i: number) => (t: Theme) => t.series[i];
    const loss = new Chart(
      "loss",
      "loss",
      "Loss",
      [
        { key: "loss", label: "loss", color: (t) => t.muted },
        { key: "ema", label: "loss (EMA)", color: s(0) },
        { key: "val_loss", label: "val loss", color: s(1), points: true },
      ],
      (v) => v.toPrecision(3),
      theme,
      (d) => ({ x: d.x, series: { ...d.series, ema: ema(d.series.loss ?? [], this.smoothing) } }),
    );
    loss.addControl(this.smoothingControl(() => loss.render()));
    loss.addControl(this.logToggle((on) => loss.setLogY(on)));
    const throughput = new Chart("throughput", "throughput", "Tokens / s", [{ key: "tokens_per_s", label: "tokens/s", color: s(2) }], formatCount, theme);
    const memory = new Chart(
      "memory",
      "memory",
      "Memory",
      [
        { key: "allocated", label: "allocated", color: s(0) },
        { key: "peak", label: "peak", color: s(4), dash: [4, 3] },
        { key: "rss", label: "rss", color: s(6) },
      ],
      formatBytes,
      theme,
    );
    const optimizerState = new Chart(
      "optimizerState",
      "memory",
      "Optimizer state",
      [
        { key: "state_total", label: "total", color: s(3) },
        { key: "state_hot", label: "hot", color: (t) => t.tier.hot },
        { key: "state_warm", label: "warm", color: (t) => t.tier.warm },
        { key: "state_cold", label: "cold", color: (t) => t.tier.cold },
        { key: "evicted", label: "evicted", color: s(7), dash: [2, 2] },
      ],
      formatBytes,
      theme,
    );
    const tierCounts = new Chart(
      "tierCounts",
      "tierCounts",
      "Tensors per tier",
      [
        { key: "hot", label: "hot", color: (t) => t.tier.hot },
        { key: "warm", label: "warm", color: (t) => t.tier.warm },
        { key: "cold", label: "cold", color: (t) => t.tier.cold },
      ],
      (v) => String(Math.round(v)),
      theme,
    );
    this.charts = [loss, throughput, memory, optimizerState, tierCounts];
    this.element.append(...this.charts.map((c) => c.element));
    new ResizeObserver(() => this.charts.forEach((c) => c.resize())).observe(this.element);
  }

  setData(data: ChartsData): void {
    for (const chart of this.charts) chart.setData(data[chart.source]);
  }

  setTheme(theme: Theme): void {
    this.charts.forEach((c) => c.setTheme(theme));
  }

  /**
   * A multi-process (torchrun) run: say whose figures a chart shows. Rank 0 writes the events, so memory is
   * rank 0's process; tokens/s counts the global batch, all processes together; every rank holds the same
   * tiers, so the same optimizer state. null: one process, plain titles.
   */
  setProcesses(nproc: number | null): void {
    const suffix: Record<string, string> = nproc === null ? {} : { throughput: `all ${nproc} processes`, memory: "rank 0", optimizerState: "each rank" };
    for (const chart of this.charts) chart.setTitle(suffix[chart.name] ? `${chart.title} (${suffix[chart.name]})` : chart.title);
  }

  private smoothingControl(onChange: () => void): HTMLElement {
    const label = document.createElement("label");
    label.className = "chart-control";
    label.textContent = "smoothing ";
    const slider = document.createElement("input");
    slider.type = "range";
    slider.min = "0";
    slider.max = "0.99";
    slider.step = "0.01";
    slider.value = String(this.smoothing);
    slider.setAttribute("aria-label", "Loss smoothing");
    slider.addEventListener("input", () => {
      this.smoothing = Number(slider.value);
      onChange();
    });
    label.append(slider);
    return label;
  }

  private logToggle(onChange: (on: boolean) => void): HTMLElement {
    const box = document.createElement("vscode-checkbox") as HTMLElement & { checked: boolean };
    box.className = "chart-control";
    box.setAttribute("label", "log y");
    box.addEventListener("change", () => onChange(box.checked));
    return box;
  }
}
