// Contrast checks for the tier colours (WCAG 2 relative luminance and contrast ratio). Theme colours come from
// the user's theme: a tier colour too close to the background is moved towards the foreground until it reaches
// the non-text contrast of WCAG 1.4.11 (3:1), and score shading never fades a cell below a floor where its
// corner marks (cut-outs in the background colour) would vanish. Pure: unit-tested over the default themes.
import { mix, parseColor } from "./color";

/** Non-text contrast (WCAG 1.4.11) a tier colour must have against the background. */
export const TIER_CONTRAST = 3;
/** The faintest a score-shaded cell may be against the background. */
export const SHADE_CONTRAST = 1.6;

function channel(c: number): number {
  const s = c / 255;
  return s <= 0.03928 ? s / 12.92 : Math.pow((s + 0.055) / 1.055, 2.4);
}

export function luminance(color: string): number {
  const [r, g, b] = parseColor(color);
  return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
}

export function contrastRatio(a: string, b: string): number {
  const la = luminance(a);
  const lb = luminance(b);
  return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
}

/** `color`, or the nearest mix of it towards `toward` (black or white, away from the background) with enough contrast. */
export function ensureContrast(color: string, background: string, ratio = TIER_CONTRAST): string {
  if (contrastRatio(color, background) >= ratio) return color;
  const toward = luminance(background) > 0.5 ? "#000000" : "#ffffff";
  for (let t = 0.05; t <= 1.0001; t += 0.05) {
    const c = mix(toward, color, t);
    if (contrastRatio(c, background) >= ratio) return c;
  }
  return toward;
}

/** The smallest mix weight of `color` into `background` whose contrast with the background reaches `ratio`. */
export function shadeFloor(color: string, background: string, ratio = SHADE_CONTRAST): number {
  for (let t = 0; t <= 1.0001; t += 0.01) if (contrastRatio(mix(color, background, t), background) >= ratio) return Math.min(1, t);
  return 1;
}
