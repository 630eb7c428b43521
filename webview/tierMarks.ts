// Tiers told apart by more than colour (for colour-blind users and for themes whose tier colours are close):
// Hot cells are solid, Warm cells have one notch cut out of their lower-left corner, Cold cells two (lower-left
// and upper-left). The marks stay in the corners, so the cell's centre keeps the tier colour, and the legend
// swatches carry the same marks. The pin triangle sits in the upper-right corner.
import type { Tier } from "../protocol/protocol.generated";

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Notch size for a cell: a third of its smaller side, at least 3 px. */
export function notchSize(r: Rect): number {
  return Math.max(3, Math.floor(Math.min(r.w, r.h) / 3));
}

export function drawTierMark(ctx: CanvasRenderingContext2D, tier: Tier, r: Rect, background: string): void {
  if (tier === "hot") return;
  const n = notchSize(r);
  ctx.fillStyle = background;
  ctx.beginPath();
  ctx.moveTo(r.x, r.y + r.h - n);
  ctx.lineTo(r.x + n, r.y + r.h);
  ctx.lineTo(r.x, r.y + r.h);
  ctx.fill();
  if (tier === "cold") {
    ctx.beginPath();
    ctx.moveTo(r.x, r.y);
    ctx.lineTo(r.x + n, r.y);
    ctx.lineTo(r.x, r.y + n);
    ctx.fill();
  }
}

/** A legend swatch with the same mark, as a small canvas. */
export function tierSwatch(tier: Tier, color: string, background: string, size = 12): HTMLCanvasElement {
  const c = document.createElement("canvas");
  const dpr = window.devicePixelRatio || 1;
  c.width = size * dpr;
  c.height = size * dpr;
  c.style.width = `${size}px`;
  c.style.height = `${size}px`;
  c.className = "swatch";
  const ctx = c.getContext("2d");
  if (ctx) {
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = color;
    ctx.fillRect(0, 0, size, size);
    drawTierMark(ctx, tier, { x: 0, y: 0, w: size, h: size }, background);
  }
  return c;
}
