// PNG snapshots for export: a chart's canvas (axes and lines) with its title and a legend drawn above it, or
// any canvas (the tier map) as it is. Returns a data: URL; the host writes the file where the user says.
import type uPlot from "uplot";

export function chartPng(u: uPlot, title: string): string {
  const src = u.ctx.canvas;
  const scale = src.width / Math.max(1, src.clientWidth || src.width);
  const style = getComputedStyle(document.body);
  const fg = style.getPropertyValue("--vscode-foreground").trim() || "#cccccc";
  const bg = style.getPropertyValue("--vscode-editor-background").trim() || "#1e1e1e";
  const labels = u.series.slice(1).filter((s) => s.show !== false).map((s) => ({ label: String(s.label ?? ""), color: typeof s.stroke === "function" ? fg : String(s.stroke ?? fg) }));
  const headH = Math.round(22 * scale);
  const legendH = Math.round(18 * scale) * Math.max(1, Math.ceil(labels.length / 3));
  const out = document.createElement("canvas");
  out.width = src.width;
  out.height = src.height + headH + legendH;
  const ctx = out.getContext("2d")!;
  ctx.fillStyle = bg;
  ctx.fillRect(0, 0, out.width, out.height);
  ctx.fillStyle = fg;
  ctx.font = `600 ${Math.round(13 * scale)}px sans-serif`;
  ctx.textBaseline = "middle";
  ctx.fillText(title, 6 * scale, headH / 2);
  ctx.font = `${Math.round(11 * scale)}px sans-serif`;
  const colW = out.width / 3;
  labels.forEach((l, i) => {
    const x = (i % 3) * colW + 6 * scale;
    const y = headH + Math.floor(i / 3) * 18 * scale + 9 * scale;
    ctx.fillStyle = l.color;
    ctx.fillRect(x, y - 2 * scale, 14 * scale, 4 * scale);
    ctx.fillStyle = fg;
    ctx.fillText(l.label, x + 20 * scale, y, colW - 30 * scale);
  });
  ctx.drawImage(src, 0, headH + legendH);
  return out.toDataURL("image/png");
}

export function canvasPng(canvas: HTMLCanvasElement): string {
  const style = getComputedStyle(document.body);
  const bg = style.getPropertyValue("--vscode-editor-background").trim() || "#1e1e1e";
  const out = document.createElement("canvas");
  out.width = canvas.width;
  out.height = canvas.height;
  const ctx = out.getContext("2d")!;
  ctx.fillStyle = bg;
  ctx.fillRect(0, 0, out.width, out.height);
  ctx.drawImage(canvas, 0, 0);
  return out.toDataURL("image/png");
}
