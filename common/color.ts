// Colour arithmetic for the canvas and chart colours (no DOM): parsing the theme's CSS colours and mixing them.
/** Parses "#rgb", "#rrggbb", "#rrggbbaa" or "rgb(a)(...)" into [r, g, b]; unknown formats give grey. */
export function parseColor(color: string): [number, number, number] {
  const hex = color.trim().match(/^#([0-9a-f]{3,8})$/i);
  if (hex) {
    let h = hex[1];
    if (h.length === 3 || h.length === 4) h = h.split("").map((c) => c + c).join("");
    return [parseInt(h.slice(0, 2), 16), parseInt(h.slice(2, 4), 16), parseInt(h.slice(4, 6), 16)];
  }
  const rgb = color.match(/rgba?\(\s*([\d.]+)[ ,]+([\d.]+)[ ,]+([\d.]+)/i);
  if (rgb) return [Math.round(+rgb[1]), Math.round(+rgb[2]), Math.round(+rgb[3])];
  return [128, 128, 128];
}

/** Mixes `color` into `background` with weight `t` in [0, 1]; returns "rgb(r, g, b)". */
export function mix(color: string, background: string, t: number): string {
  const a = parseColor(color);
  const b = parseColor(background);
  const c = a.map((x, i) => Math.round(b[i] + (x - b[i]) * t));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}
