// A run's tiers over time: one row per tensor, x = step, each re-tier's assignment held until the next one.
// Tiers are told apart by lightness as well as hue (Hot full, Warm mid, Cold faint), so the strip reads in
// grey too. The slider (or a click on the strip) scrubs to any re-tier, and the tier map below shows the
// model at that step; while the run is live the host re-sends the timeline and a scrubber at the end follows it.
import type { TensorState, WebviewToHost } from "../../common/messages";
import type { TimelineView } from "../../common/runsMessages";
import type { Tier } from "../../protocol/protocol.generated";
import { TIERS } from "../../protocol/protocol.generated";
import { mix, type Theme } from "../theme";
import { TierMap } from "../TierMap";
import { canvasPng } from "../charts/png";

const LIGHTNESS: Record<Tier, number> = { hot: 1, warm: 0.6, cold: 0.28 };
const ROW_MAX = 6;

export class TierTimeline {
  readonly element = document.createElement("section");
  private readonly title = document.createElement("h2");
  private readonly canvas = document.createElement("canvas");
  private readonly slider = document.createElement("input");
  private readonly stepLabel = document.createElement("div");
  private readonly map: TierMap;
  private view: TimelineView | null = null;
  private frame = 0;
  private followEnd = true;

  constructor(private theme: Theme, savePng: (name: string, url: string) => void) {
    this.element.className = "tier-timeline";
    this.element.dataset.testid = "timeline";
    this.element.hidden = true;
    this.canvas.className = "timeline-canvas";
    this.canvas.setAttribute("role", "img");
    this.slider.type = "range";
    this.slider.min = "0";
    this.slider.step = "1";
    this.slider.dataset.testid = "timeline-scrub";
    this.slider.setAttribute("aria-label", "Re-tier shown in the tier map");
    this.slider.addEventListener("input", () => this.setFrame(Number(this.slider.value)));
    this.canvas.addEventListener("click", (e) => this.setFrame(this.frameAtX(e.offsetX)));
    this.stepLabel.className = "timeline-step";
    this.stepLabel.dataset.testid = "timeline-step";
    // The map is read-only here: a past step cannot be pinned.
    this.map = new TierMap(theme, (_m: WebviewToHost) => undefined);
    const png = document.createElement("button");
    png.className = "link-button";
    png.textContent = "PNG";
    png.dataset.testid = "png-timeline";
    png.addEventListener("click", () => savePng(`tier-timeline-${this.view?.id ?? "run"}.png`, canvasPng(this.canvas)));
    const mapPng = document.createElement("button");
    mapPng.className = "link-button";
    mapPng.textContent = "PNG of the tier map";
    mapPng.dataset.testid = "png-tiermap";
    mapPng.addEventListener("click", () => {
      const c = this.map.element.querySelector("canvas");
      if (c) savePng(`tier-map-${this.view?.id ?? "run"}-step-${this.view?.frames[this.frame]?.step ?? 0}.png`, canvasPng(c));
    });
    this.title.append("Tier timeline");
    this.element.append(this.title, this.canvas, this.slider, this.stepLabel, png, this.map.element, mapPng);
    new ResizeObserver(() => this.draw()).observe(this.element);
  }

  setView(view: TimelineView): void {
    const sameRun = this.view?.id === view.id;
    this.view = view;
    this.element.hidden = false;
    this.title.textContent = `Tier timeline — ${view.name}${view.live ? " (live)" : ""}`;
    this.map.setTensors(view.tensors);
    const last = Math.max(0, view.frames.length - 1);
    this.slider.max = String(last);
    this.setFrame(!sameRun || this.followEnd ? last : Math.min(this.frame, last));
  }

  setTheme(theme: Theme): void {
    this.theme = theme;
    this.map.setTheme(theme);
    this.draw();
  }

  setFrame(i: number): void {
    const v = this.view;
    if (!v) return;
    this.frame = Math.max(0, Math.min(i, v.frames.length - 1));
    this.followEnd = this.frame === v.frames.length - 1;
    this.slider.value = String(this.frame);
    const f = v.frames[this.frame];
    const states: TensorState[] = v.tensors.map((_, t) => {
      const tier = f ? TIERS[f.tiers[t]] : undefined;
      return { tier: tier ?? "hot", score: 1, pinned: f ? f.pinned[t] === 1 : false, changed: false };
    });
    // A frame's "changed" marks: tensors whose tier differs from the previous frame.
    const prev = v.frames[this.frame - 1];
    if (f && prev) states.forEach((s, t) => (s.changed = prev.tiers[t] !== f.tiers[t]));
    this.map.setTiers(f ? states : [], v.tensors.map(() => []));
    const counts = { hot: 0, warm: 0, cold: 0 };
    if (f) for (const t of f.tiers) if (t < 3) counts[TIERS[t]]++;
    this.stepLabel.textContent = f
      ? `step ${f.step} (re-tier ${this.frame + 1} of ${v.frames.length}): Hot ${counts.hot} · Warm ${counts.warm} · Cold ${counts.cold} tensors`
      : "no re-tier recorded";
    this.stepLabel.dataset.step = f ? String(f.step) : "";
    this.draw();
  }

  private geometry() {
    const v = this.view!;
    const width = Math.max(200, this.element.clientWidth - 4);
    const rowH = Math.max(2, Math.min(ROW_MAX, Math.floor(320 / Math.max(1, v.tensors.length))));
    const lastStep = Math.max(v.lastStep, v.frames.at(-1)?.step ?? 0, 1);
    return { width, rowH, height: rowH * v.tensors.length, lastStep, x: (step: number) => (step / lastStep) * width };
  }

  private frameAtX(px: number): number {
    const v = this.view;
    if (!v || v.frames.length === 0) return 0;
    const g = this.geometry();
    const step = (px / g.width) * g.lastStep;
    let i = 0;
    while (i + 1 < v.frames.length && v.frames[i + 1].step <= step) i++;
    return i;
  }

  private draw(): void {
    const v = this.view;
    const ctx = this.canvas.getContext("2d");
    if (!v || !ctx) return;
    const g = this.geometry();
    const dpr = window.devicePixelRatio || 1;
    this.canvas.style.width = `${g.width}px`;
    this.canvas.style.height = `${g.height}px`;
    this.canvas.width = Math.round(g.width * dpr);
    this.canvas.height = Math.round(g.height * dpr);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = this.theme.background;
    ctx.fillRect(0, 0, g.width, g.height);
    const fills = TIERS.map((t) => mix(this.theme.tier[t], this.theme.background, LIGHTNESS[t]));
    v.frames.forEach((f, i) => {
      const x0 = g.x(f.step);
      const x1 = i + 1 < v.frames.length ? g.x(v.frames[i + 1].step) : g.x(g.lastStep);
      const w = Math.max(1, x1 - x0);
      for (let t = 0; t < v.tensors.length; t++) {
        const tier = f.tiers[t];
        if (tier > 2) continue;
        ctx.fillStyle = fills[tier];
        ctx.fillRect(x0, t * g.rowH, w, g.rowH);
      }
    });
    const f = v.frames[this.frame];
    if (f) {
      ctx.strokeStyle = this.theme.foreground;
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.moveTo(g.x(f.step) + 1, 0);
      ctx.lineTo(g.x(f.step) + 1, g.height);
      ctx.stroke();
    }
    this.canvas.setAttribute("aria-label", `Tiers of ${v.tensors.length} tensors over ${g.lastStep} steps, ${v.frames.length} re-tiers`);
  }
}
