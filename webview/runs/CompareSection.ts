// The comparison of the picked runs: baseline, x axis (step or training clock), smoothing, the summary table
// against the baseline, the overlaid charts, the settings that differ, and the exports (CSV, TensorBoard,
// Markdown report; PNG per chart).
import type { CompareView, ExportFormat, RunsViewToHost } from "../../common/runsMessages";
import type { Theme } from "../theme";
import { OverlayCharts, runColor, type XMode } from "./OverlayCharts";

export class CompareSection {
  readonly element = document.createElement("section");
  readonly charts: OverlayCharts;
  private readonly baseline = document.createElement("select");
  private readonly xStep = document.createElement("input");
  private readonly xTime = document.createElement("input");
  private readonly smoothing = document.createElement("input");
  private readonly table = document.createElement("table");
  private readonly diff = document.createElement("table");
  private readonly diffTitle = document.createElement("h3");
  private readonly hint = document.createElement("p");
  private view: CompareView | null = null;
  private x: XMode = "step";
  private ids: string[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly send: (m: RunsViewToHost) => void, private theme: Theme) {
    this.element.className = "compare-section";
    this.element.dataset.testid = "compare";
    const h = document.createElement("h2");
    h.textContent = "Compare";
    this.hint.className = "muted";
    this.hint.textContent = "Tick two or more runs in the table to compare them.";
    const controls = document.createElement("div");
    controls.className = "compare-controls";
    const baseLabel = document.createElement("label");
    baseLabel.textContent = "Baseline ";
    this.baseline.dataset.testid = "baseline";
    this.baseline.addEventListener("change", () => this.request());
    baseLabel.append(this.baseline);
    const xGroup = document.createElement("span");
    xGroup.setAttribute("role", "radiogroup");
    xGroup.setAttribute("aria-label", "x axis");
    for (const [input, mode, text] of [[this.xStep, "step", "by step"], [this.xTime, "time", "by time"]] as const) {
      input.type = "radio";
      input.name = "x-axis";
      input.value = mode;
      input.dataset.testid = `x-${mode}`;
      input.checked = mode === "step";
      input.addEventListener("change", () => {
        if (!input.checked) return;
        this.x = mode;
        this.charts.group.resetZoom();
        this.renderCharts();
      });
      const l = document.createElement("label");
      l.append(input, ` ${text}`);
      xGroup.append(l);
    }
    const smoothLabel = document.createElement("label");
    smoothLabel.textContent = "smoothing ";
    this.smoothing.type = "range";
    this.smoothing.min = "0";
    this.smoothing.max = "0.99";
    this.smoothing.step = "0.01";
    this.smoothing.value = "0.9";
    this.smoothing.dataset.testid = "compare-smoothing";
    this.smoothing.setAttribute("aria-label", "Loss smoothing");
    this.smoothing.addEventListener("input", () => {
      if (this.timer) clearTimeout(this.timer);
      this.timer = setTimeout(() => this.request(), 150);
    });
    smoothLabel.append(this.smoothing);
    controls.append(baseLabel, xGroup, smoothLabel);

    const exports = document.createElement("div");
    exports.className = "button-row";
    for (const [format, text] of [["csv", "Export CSV"], ["tensorboard", "Export TensorBoard"], ["markdown", "Markdown report"]] as const) {
      const b = document.createElement("button");
      b.textContent = text;
      b.dataset.export = format;
      b.addEventListener("click", () => this.exportAs(format));
      exports.append(b);
    }
    this.table.className = "compare-table";
    this.table.dataset.testid = "compare-table";
    this.diff.className = "config-diff";
    this.diff.dataset.testid = "config-diff";
    this.diffTitle.textContent = "Settings that differ";
    this.charts = new OverlayCharts((name, dataUrl) => this.send({ kind: "savePng", name, dataUrl }));
    this.element.append(h, this.hint, controls, this.table, exports, this.charts.element, this.diffTitle, this.diff);
    this.setIds([]);
  }

  get xMode(): XMode {
    return this.x;
  }

  /** The runs picked in the table; asks the host for the comparison when there are two or more. */
  setIds(ids: string[]): void {
    this.ids = ids;
    const keep = ids.includes(this.baseline.value) ? this.baseline.value : (ids[0] ?? "");
    this.baseline.replaceChildren(...ids.map((id) => new Option(id, id, false, id === keep)));
    const enough = ids.length >= 2;
    this.hint.hidden = enough;
    for (const el of Array.from(this.element.children).slice(2)) (el as HTMLElement).hidden = !enough;
    if (enough) this.request();
    else this.view = null;
  }

  setView(view: CompareView): void {
    if (view.runs.map((r) => r.id).join() !== this.ids.join()) return; // an answer to an older pick
    this.view = view;
    this.renderTable();
    this.renderCharts();
  }

  setTheme(theme: Theme): void {
    this.theme = theme;
    if (this.view) {
      this.renderTable();
      this.renderCharts();
    }
  }

  private request(): void {
    if (this.ids.length < 2) return;
    this.send({ kind: "compare", ids: this.ids, baseline: this.baseline.value || this.ids[0], smoothing: Number(this.smoothing.value) });
  }

  private exportAs(format: ExportFormat): void {
    if (this.ids.length === 0) return;
    this.send({ kind: "export", format, ids: this.ids, baseline: format === "markdown" ? this.baseline.value || this.ids[0] : null });
  }

  private renderTable(): void {
    const v = this.view!;
    const head = document.createElement("tr");
    for (const c of v.table.columns) {
      const th = document.createElement("th");
      th.textContent = c;
      head.append(th);
    }
    const rows = v.table.cells.map((cells, i) => {
      const tr = document.createElement("tr");
      tr.dataset.id = v.runs[i].id;
      if (v.comparison.rows[i].isBaseline) tr.dataset.baseline = "true";
      cells.forEach((text, j) => {
        const td = document.createElement(j === 0 ? "th" : "td");
        if (j === 0) {
          const swatch = document.createElement("span");
          swatch.className = "run-swatch";
          swatch.style.background = runColor(this.theme, i);
          td.append(swatch, text);
        } else td.textContent = text;
        tr.append(td);
      });
      return tr;
    });
    this.table.replaceChildren(head, ...rows);
    const diffHead = document.createElement("tr");
    diffHead.append(...["setting", ...v.runs.map((r) => r.name)].map((t) => Object.assign(document.createElement("th"), { textContent: t })));
    const diffRows = v.comparison.configDiff.map((d) => {
      const tr = document.createElement("tr");
      tr.append(Object.assign(document.createElement("th"), { textContent: d.key }), ...d.values.map((t) => Object.assign(document.createElement("td"), { textContent: t })));
      return tr;
    });
    this.diff.replaceChildren(diffHead, ...diffRows);
    this.diffTitle.textContent = diffRows.length ? "Settings that differ" : "Settings: the same in every run";
  }

  private renderCharts(): void {
    if (this.view) this.charts.render(this.view, this.x, this.theme);
  }
}
