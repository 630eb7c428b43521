// The tier map: one canvas cell per parameter tensor (rows = groups, columns = kinds), filled with its tier
// colour and shaded by score. The canvas is repainted only when tiers, size, theme or keyboard focus change.
// A visually hidden list mirrors the cells for screen readers and for the panel tests (data-* attributes).
import type { TensorInfo } from "../protocol/protocol.generated";
import type { TensorState, TierHistory, WebviewToHost } from "../common/messages";
import { layoutTensors, scoreShades, type TierLayout } from "./tierLayout";
import { drawTierMark } from "./tierMarks";
import { shadeFloor } from "../common/contrast";
import { mix, type Theme } from "./theme";
import { PinMenu, TensorCard } from "./TensorCard";
import { visibleText } from "../common/visibleText";

const ROW_LABEL_MAX = 110;
const MIN_CELL = 10;
const MAX_CELL = 34;
const GAP = 2;

export class TierMap {
  readonly element = document.createElement("section");
  private readonly canvas = document.createElement("canvas");
  private readonly cellList = document.createElement("ul");
  private readonly card: TensorCard;
  private readonly menu: PinMenu;
  private tensors: TensorInfo[] = [];
  private states: TensorState[] = [];
  private history: TierHistory[] = [];
  private layout: TierLayout = layoutTensors([]);
  private fills: string[] = [];
  private geometry = { labelW: 0, headerH: 0, cell: MAX_CELL, cellH: 20, width: 0, height: 0 };
  private focus = { row: 0, col: 0, visible: false };
  private live = false;

  constructor(private theme: Theme, send: (m: WebviewToHost) => void) {
    this.element.className = "tier-map";
    const wrap = document.createElement("div");
    wrap.className = "tier-canvas-wrap";
    this.canvas.tabIndex = 0;
    this.canvas.setAttribute("role", "grid");
    this.canvas.setAttribute("aria-label", "Tier map: arrow keys move between tensors, Enter opens the pin menu");
    this.cellList.className = "visually-hidden";
    this.cellList.dataset.testid = "tier-cells";
    wrap.append(this.canvas);
    this.element.append(wrap, this.cellList);
    this.card = new TensorCard(wrap);
    this.menu = new PinMenu(wrap, send, () => this.canvas.focus());

    this.canvas.addEventListener("pointermove", (e) => this.onHover(e.offsetX, e.offsetY));
    this.canvas.addEventListener("pointerleave", () => this.card.hide());
    this.canvas.addEventListener("click", (e) => {
      const i = this.tensorAt(e.offsetX, e.offsetY);
      if (i >= 0) this.openMenu(i);
    });
    this.canvas.addEventListener("keydown", (e) => this.onKey(e));
    this.canvas.addEventListener("blur", () => {
      this.focus.visible = false;
      this.draw();
    });
    new ResizeObserver(() => this.resize()).observe(wrap);
  }

  setTensors(tensors: TensorInfo[]): void {
    this.tensors = tensors;
    this.layout = layoutTensors(tensors);
    this.states = [];
    this.focus = { row: 0, col: 0, visible: false };
    this.resize();
  }

  setTiers(states: TensorState[], history: TierHistory[]): void {
    this.states = states;
    this.history = history;
    this.computeFills();
    this.draw();
    this.updateCellList();
  }

  setLive(live: boolean): void {
    this.live = live;
  }

  setTheme(theme: Theme): void {
    this.theme = theme;
    this.computeFills();
    this.draw();
    this.updateCellList();
  }

  private computeFills(): void {
    const shades = scoreShades(this.states.map((s) => s.score));
    // Shading by score must not fade a cell into the background (its corner marks would vanish with it).
    const floors = { hot: 0, warm: 0, cold: 0 };
    for (const t of ["hot", "warm", "cold"] as const) floors[t] = shadeFloor(this.theme.tier[t], this.theme.background);
    this.fills = this.states.map((s, i) => {
      const f = floors[s.tier];
      return mix(this.theme.tier[s.tier], this.theme.background, Math.max(shades[i], f + (1 - f) * ((shades[i] - 0.35) / 0.65)));
    });
  }

  private resize(): void {
    const ctx = this.canvas.getContext("2d");
    const parent = this.canvas.parentElement;
    if (!ctx || !parent) return;
    const { rows, cols } = this.layout;
    ctx.font = this.font();
    const labelW = Math.min(ROW_LABEL_MAX, Math.ceil(Math.max(0, ...rows.map((r) => ctx.measureText(visibleText(r)).width))) + 8);
    const headerH = Math.min(ROW_LABEL_MAX, Math.ceil(Math.max(0, ...cols.map((c) => ctx.measureText(visibleText(c)).width))) + 8);
    const available = Math.max(0, parent.clientWidth - labelW - 4);
    const cell = cols.length ? Math.max(MIN_CELL, Math.min(MAX_CELL, Math.floor(available / cols.length))) : MAX_CELL;
    const cellH = Math.max(MIN_CELL, Math.min(22, cell));
    const width = labelW + cols.length * cell + 4;
    const height = rows.length ? headerH + rows.length * cellH + 4 : 0;
    this.geometry = { labelW, headerH, cell, cellH, width, height };
    const dpr = window.devicePixelRatio || 1;
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${height}px`;
    this.canvas.width = Math.round(width * dpr);
    this.canvas.height = Math.round(height * dpr);
    this.draw();
    this.updateCellList();
  }

  private font(): string {
    const family = getComputedStyle(document.body).getPropertyValue("--vscode-font-family").trim() || "sans-serif";
    return `11px ${family}`;
  }

  private cellRect(row: number, col: number): { x: number; y: number; w: number; h: number } {
    const g = this.geometry;
    return { x: g.labelW + col * g.cell, y: g.headerH + row * g.cellH, w: g.cell - GAP, h: g.cellH - GAP };
  }

  private draw(): void {
    const ctx = this.canvas.getContext("2d");
    if (!ctx) return;
    const dpr = window.devicePixelRatio || 1;
    const { rows, cols, cells } = this.layout;
    const t = this.theme;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, this.geometry.width, this.geometry.height);
    ctx.font = this.font();
    ctx.fillStyle = t.muted;
    ctx.textBaseline = "middle";
    rows.forEach((r, i) => {
      const { y, h } = this.cellRect(i, 0);
      ctx.fillText(visibleText(r), 2, y + h / 2, this.geometry.labelW - 6);
    });
    cols.forEach((c, i) => {
      const { x, w } = this.cellRect(0, i);
      ctx.save();
      ctx.translate(x + w / 2, this.geometry.headerH - 4);
      ctx.rotate(-Math.PI / 2);
      ctx.fillText(visibleText(c), 0, 0, this.geometry.headerH - 6);
      ctx.restore();
    });
    cells.forEach((c, i) => {
      const r = this.cellRect(c.row, c.col);
      const state = this.states[i];
      ctx.fillStyle = state ? this.fills[i] : t.border;
      ctx.fillRect(r.x, r.y, r.w, r.h);
      if (!state) return;
      if (state.changed) {
        ctx.strokeStyle = t.foreground;
        ctx.lineWidth = 1.5;
        ctx.strokeRect(r.x + 0.75, r.y + 0.75, r.w - 1.5, r.h - 1.5);
      }
      drawTierMark(ctx, state.tier, r, t.background);
      if (state.pinned) {
        // A corner triangle: visible at any cell size and leaves the cell centre (the tier colour) untouched.
        // A pin set while the run went on is large and in the focus colour; the policy's pins (norms, biases)
        // are small and muted, so the user's own pins stand out among them.
        const user = state.pinSource === "user";
        const size = user ? Math.min(9, r.w / 2) : 5;
        ctx.fillStyle = user ? t.focus : t.muted;
        ctx.beginPath();
        ctx.moveTo(r.x + r.w - size, r.y);
        ctx.lineTo(r.x + r.w, r.y);
        ctx.lineTo(r.x + r.w, r.y + size);
        ctx.fill();
        if (user) {
          ctx.strokeStyle = t.foreground;
          ctx.lineWidth = 1;
          ctx.stroke();
        }
      }
    });
    if (this.focus.visible && rows.length) {
      const r = this.cellRect(this.focus.row, this.focus.col);
      ctx.strokeStyle = t.focus;
      ctx.lineWidth = 2;
      ctx.strokeRect(r.x - 1, r.y - 1, r.w + 2, r.h + 2);
    }
  }

  /** Mirrors the drawn cells as list items: readable by screen readers, checkable by tests. */
  private updateCellList(): void {
    const items = this.tensors.map((tensor, i) => {
      const li = document.createElement("li");
      const state = this.states[i];
      const c = this.layout.cells[i];
      const r = this.cellRect(c.row, c.col);
      li.dataset.name = tensor.name;
      li.dataset.tier = state?.tier ?? "";
      li.dataset.fill = this.fills[i] ?? "";
      li.dataset.x = String(r.x + r.w / 2);
      li.dataset.y = String(r.y + r.h / 2);
      li.dataset.pinned = String(state?.pinned ?? false);
      li.dataset.pinSource = state?.pinSource ?? "";
      li.dataset.changed = String(state?.changed ?? false);
      li.textContent = `${visibleText(tensor.name)}: ${state ? `${state.tier}${state.pinned ? (state.pinSource === "user" ? ", pinned by you" : ", pinned by policy") : ""}` : "no tier yet"}`;
      return li;
    });
    this.cellList.replaceChildren(...items);
  }

  private tensorAt(x: number, y: number): number {
    const g = this.geometry;
    const col = Math.floor((x - g.labelW) / g.cell);
    const row = Math.floor((y - g.headerH) / g.cellH);
    if (row < 0 || col < 0 || row >= this.layout.rows.length || col >= this.layout.cols.length) return -1;
    return this.layout.grid[row * this.layout.cols.length + col];
  }

  private onHover(x: number, y: number): void {
    if (this.menu.isOpen) return;
    const i = this.tensorAt(x, y);
    if (i < 0) this.card.hide();
    else this.card.show(this.tensors[i], this.states[i], this.history[i], x, y);
  }

  private openMenu(i: number): void {
    this.card.hide();
    const c = this.layout.cells[i];
    const r = this.cellRect(c.row, c.col);
    this.menu.open(this.tensors[i], this.states[i]?.pinned ?? false, r.x + r.w, r.y + r.h, this.live);
  }

  /**
   * The occupied cell next to the focused one in a direction: left/right skip empty cells of the row,
   * up/down take the next row that has a tensor, at the column nearest the current one.
   */
  private neighbour(dr: number, dc: number): { row: number; col: number } | null {
    const { rows, cols, grid } = this.layout;
    const at = (r: number, c: number) => grid[r * cols.length + c] >= 0;
    const f = this.focus;
    if (dc !== 0) {
      for (let c = f.col + dc; c >= 0 && c < cols.length; c += dc) if (at(f.row, c)) return { row: f.row, col: c };
      return null;
    }
    for (let r = f.row + dr; r >= 0 && r < rows.length; r += dr) {
      for (let d = 0; d < cols.length; d++) {
        if (f.col - d >= 0 && at(r, f.col - d)) return { row: r, col: f.col - d };
        if (f.col + d < cols.length && at(r, f.col + d)) return { row: r, col: f.col + d };
      }
    }
    return null;
  }

  private onKey(e: KeyboardEvent): void {
    const { rows, cols, grid } = this.layout;
    if (!rows.length) return;
    const moves: Record<string, [number, number]> = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
    const f = this.focus;
    if (e.key in moves) {
      e.preventDefault();
      if (f.visible) {
        const next = this.neighbour(...moves[e.key]);
        if (next) Object.assign(f, next);
      } else if (this.layout.cells.length) {
        // The first arrow press shows the focus on the current cell (the first tensor to start with).
        if (grid[f.row * cols.length + f.col] < 0) Object.assign(f, this.layout.cells[0]);
      }
      f.visible = true;
      this.draw();
      const i = grid[f.row * cols.length + f.col];
      const r = this.cellRect(f.row, f.col);
      if (i >= 0) this.card.show(this.tensors[i], this.states[i], this.history[i], r.x + r.w, r.y);
    } else if (e.key === "Enter" || e.key === " ") {
      const i = grid[f.row * cols.length + f.col];
      if (i >= 0) {
        e.preventDefault();
        this.openMenu(i);
      }
    } else if (e.key === "Escape") {
      this.card.hide();
    }
  }
}
