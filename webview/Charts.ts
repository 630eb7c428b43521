// The panel's uPlot charts: loss (raw, EMA, validation points; log-y toggle), tokens/s, memory, optimizer state,
// tier counts, and GPU utilization / temperature / power where the run reports them (hidden otherwise). Optimizer state has its own chart (and y axis): on a CPU run the process RSS is gigabytes while
// the state is megabytes, and on one axis the Hot/Warm/Cold split and the evicted bytes would be flat lines.
// The host sends downsampled series, with the loss and tokens/s EMA computed on the full-resolution series
// (the smoothing slider asks the host for another strength). The charts are one PlotGroup: one cursor, one x
// range, and a drag-zoom that live updates keep (double-click resets). Tier counts change only at a re-tier, so
// they are drawn as steps, held to the latest step of the run.
// Charts are rebuilt only on theme change, log-y toggle or a change in which series have data; otherwise setData.
import uPlot from "uplot";
import "@vscode-elements/elements/dist/vscode-checkbox/index.js";
import type { ChartData, Charts as ChartsData, WebviewToHost } from "../common/messages";
import type { Theme } from "./theme";
import { formatBytes, formatCount } from "./format";
import { PlotGroup, legendAtEnd } from "./charts/plotGroup";
import { chartPng } from "./charts/png";

type SeriesSpec = { key: string; label: string; color: (t: Theme) => string; points?: boolean; dash?: number[]; width?: number };

const HEIGHT = 150;
const DEFAULT_SMOOTHING = 0.9;

/** `d` with a last row at step `x` repeating the latest values (a stepped series held to the run's end). */
export function holdTo(d: ChartData, x: number): ChartData {
  const n = d.x.length;
  if (n === 0 || d.x[n - 1] >= x) return d;
  const series: Record<string, Array<number | null>> = {};
  for (const [k, v] of Object.entries(d.series)) series[k] = [...v, v[n - 1]];
  return { x: [...d.x, x], series };
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
  /** Optional figures (GPU): the chart stays hidden while none of its series has data. */
  hideWhenEmpty = false;

  constructor(
    readonly name: string,
    /** Which chart of the host's data it draws (two panel charts can draw columns of the same one). */
    readonly source: keyof ChartsData,
    readonly title: string,
    private readonly specs: SeriesSpec[],
    private readonly yFormat: (v: number) => string,
    private theme: Theme,
    private readonly group: PlotGroup,
    private readonly transform: (d: ChartData) => ChartData = (d) => d,
    private logY = false,
    private readonly stepped = false,
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

  /** The chart as a PNG data: URL (title and legend drawn above it), or null before it has data. */
  png(): string | null {
    return this.plot ? chartPng(this.plot, this.titleText.textContent ?? this.title) : null;
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
    this.group.setData(this.plot, this.aligned(d, keys));
    legendAtEnd(this.plot);
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
    if (this.plot) {
      this.group.remove(this.plot);
      this.plot.destroy();
    }
    this.plot = null;
    // A hidden chart has no plot at all: nothing in the shared cursor, zoom or PNG export.
    this.element.hidden = this.hideWhenEmpty && !this.shownKeys;
    if (this.element.hidden) return;
    const d = this.transform(this.data);
    const keys = this.shownKeys ? this.shownKeys.split(",") : [];
    const t = this.theme;
    const narrow = this.width() < 360;
    const axis = { stroke: t.muted, grid: { stroke: t.border, width: 1 }, ticks: { stroke: t.border, width: 1 }, font: `${narrow ? 10 : 11}px sans-serif`, size: narrow ? 30 : 40 };
    const stepped = this.stepped ? uPlot.paths.stepped!({ align: 1 }) : undefined;
    const series: uPlot.Series[] = [{ label: "step" }];
    for (const key of keys) {
      const spec = this.specs.find((s) => s.key === key)!;
      const color = spec.color(t);
      series.push({
        label: spec.label,
        stroke: color,
        width: spec.width ?? 1.5,
        dash: spec.dash,
        spanGaps: !spec.points,
        ...(stepped ? { paths: stepped } : {}),
        value: (_u, v) => (v === null || v === undefined ? "—" : this.yFormat(v)),
        ...(spec.points ? { paths: () => null, points: { show: true, size: 6, stroke: color, fill: color } } : { points: { show: false } }),
      });
    }
    const shared = this.group.options();
    this.plot = new uPlot(
      {
        width: this.width(),
        height: HEIGHT,
        series,
        scales: { x: { time: false }, y: this.logY ? { distr: 3 } : {} },
        axes: [axis, { ...axis, size: narrow ? 48 : 64, values: (_u, vals) => vals.map((v) => (v === null ? "" : this.yFormat(v))) }],
        legend: { show: true, live: true },
        cursor: shared.cursor,
        hooks: { ...shared.hooks, setCursor: [legendAtEnd] },
      },
      this.aligned(d, keys),
      this.plotHost,
    );
    const plot = this.plot;
    plot.over.addEventListener("mouseleave", () => queueMicrotask(() => legendAtEnd(plot)));
    this.group.add(plot);
    legendAtEnd(plot);
    this.element.dataset.points = String(d.x.length);
  }
}

export class Charts {
  readonly element = document.createElement("section");
  /** Cursor, zoom and x extent shared by every chart. */
  readonly group = new PlotGroup();
  private readonly charts: Chart[];
  private smoothing = DEFAULT_SMOOTHING;
  private smoothingTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(theme: Theme, private readonly send: (m: WebviewToHost) => void = () => undefined) {
    this.element.className = "charts";
    const s = (i: number) => (t: Theme) => t.series[i];
    const loss = new Chart(
      "loss",
      "loss",
      "Loss",
      [
        { key: "loss", label: "raw", color: (t) => t.muted, width: 1 },
        { key: "loss_ema", label: "smoothed", color: s(0) },
        { key: "val_loss", label: "val", color: s(1), points: true },
      ],
      (v) => v.toPrecision(3),
      theme,
      this.group,
    );
    loss.addControl(this.smoothingControl());
    loss.addControl(this.logToggle((on) => loss.setLogY(on)));
    // Raw tokens/s is noisy (a min/max band on a long run): the smoothed line is the one to read.
    const throughput = new Chart(
      "throughput",
      "throughput",
      "Tokens / s",
      [
        { key: "tokens_per_s", label: "raw", color: (t) => t.border, width: 1 },
        { key: "tokens_per_s_ema", label: "smoothed", color: s(2) },
      ],
      (v) => formatCount(Math.round(v)),
      theme,
      this.group,
    );
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
      this.group,
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
      this.group,
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
      this.group,
      (d) => holdTo(d, this.lastStep),
      false,
      true,
    );
    // NVML's figures, where the trainer has them (memory events' `gpu`): utilization and temperature share an
    // axis (both run 0-100), power has its own; both hidden on a CPU run.
    const gpu = new Chart(
      "gpu",
      "gpu",
      "GPU utilization and temperature",
      [
        { key: "utilization", label: "utilization %", color: s(0) },
        { key: "temperature", label: "temperature °C", color: s(4) },
      ],
      (v) => v.toFixed(0),
      theme,
      this.group,
    );
    const gpuPower = new Chart("gpuPower", "gpu", "GPU power", [{ key: "power", label: "power", color: s(6) }], (v) => `${v.toFixed(0)} W`, theme, this.group);
    for (const c of [gpu, gpuPower]) {
      c.hideWhenEmpty = true;
      c.element.hidden = true;
    }
    this.charts = [loss, throughput, memory, optimizerState, tierCounts, gpu, gpuPower];
    for (const c of this.charts) c.addControl(this.pngButton(c));
    this.element.append(...this.charts.map((c) => c.element));
    new ResizeObserver(() => this.charts.forEach((c) => c.resize())).observe(this.element);
  }

  /** The latest step any chart has (tier counts are held to it). */
  private lastStep = 0;

  setData(data: ChartsData): void {
    this.lastStep = Math.max(...Object.values(data).map((d) => (d.x.length ? d.x[d.x.length - 1] : 0)));
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
    const suffix: Record<string, string> = nproc === null ? {} : { throughput: `all ${nproc} processes`, memory: "rank 0", optimizerState: "each rank", gpu: "rank 0's GPU", gpuPower: "rank 0's GPU" };
    for (const chart of this.charts) chart.setTitle(suffix[chart.name] ? `${chart.title} (${suffix[chart.name]})` : chart.title);
  }

  private smoothingControl(): HTMLElement {
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
    slider.dataset.testid = "smoothing";
    // The host recomputes the EMA over the whole run; a drag of the slider sends one request when it pauses.
    slider.addEventListener("input", () => {
      this.smoothing = Number(slider.value);
      if (this.smoothingTimer) clearTimeout(this.smoothingTimer);
      this.smoothingTimer = setTimeout(() => this.send({ kind: "setSmoothing", smoothing: this.smoothing }), 120);
    });
    label.append(slider);
    return label;
  }

  private pngButton(chart: Chart): HTMLElement {
    const b = document.createElement("button");
    b.className = "link-button chart-control";
    b.textContent = "PNG";
    b.title = `Save “${chart.title}” as PNG`;
    b.dataset.testid = `png-${chart.name}`;
    b.addEventListener("click", () => {
      const url = chart.png();
      if (url) this.send({ kind: "savePng", name: `${chart.name}.png`, dataUrl: url });
    });
    return b;
  }

  private logToggle(onChange: (on: boolean) => void): HTMLElement {
    const box = document.createElement("vscode-checkbox") as HTMLElement & { checked: boolean };
    box.className = "chart-control";
    box.setAttribute("label", "log y");
    box.addEventListener("change", () => onChange(box.checked));
    return box;
  }
}
