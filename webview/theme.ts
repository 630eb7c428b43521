// Colours for canvas and charts, read from the --vscode-* theme variables (canvas and uPlot cannot use CSS
// variables directly). VS Code swaps the body class (vscode-light / vscode-dark / vscode-high-contrast) on a
// theme change, so a MutationObserver on it tells the views to re-read and repaint.
import type { Tier } from "../protocol/protocol.generated";
import { ensureContrast } from "../common/contrast";

export interface Theme {
  tier: Record<Tier, string>;
  foreground: string;
  muted: string;
  background: string;
  border: string;
  focus: string;
  /** Distinct series colours for charts, in order. */
  series: string[];
}

function cssVar(style: CSSStyleDeclaration, name: string, fallback: string): string {
  const value = style.getPropertyValue(name).trim();
  return value || fallback;
}

export function readTheme(): Theme {
  const style = getComputedStyle(document.body);
  const v = (name: string, fallback: string) => cssVar(style, name, fallback);
  const background = v("--vscode-editor-background", v("--vscode-sideBar-background", "#1e1e1e"));
  // A theme's chart colour may be too faint on its background (light themes' orange): give it 3:1.
  const tier = (name: string, fallback: string) => ensureContrast(v(name, fallback), background);
  return {
    tier: {
      hot: tier("--vscode-charts-red", "#f14c4c"),
      warm: tier("--vscode-charts-orange", "#d18616"),
      cold: tier("--vscode-charts-blue", "#3794ff"),
    },
    foreground: v("--vscode-foreground", "#cccccc"),
    muted: v("--vscode-descriptionForeground", "#9d9d9d"),
    background: v("--vscode-editor-background", v("--vscode-sideBar-background", "#1e1e1e")),
    border: v("--vscode-panel-border", "#80808059"),
    focus: v("--vscode-focusBorder", "#007fd4"),
    series: [
      v("--vscode-charts-blue", "#3794ff"),
      v("--vscode-charts-orange", "#d18616"),
      v("--vscode-charts-green", "#89d185"),
      v("--vscode-charts-purple", "#b180d7"),
      v("--vscode-charts-red", "#f14c4c"),
      v("--vscode-charts-yellow", "#cca700"),
      v("--vscode-foreground", "#cccccc"),
      v("--vscode-descriptionForeground", "#9d9d9d"),
    ],
  };
}

/** Calls `onChange` with the new theme whenever VS Code switches theme. */
export function watchTheme(onChange: (theme: Theme) => void): void {
  new MutationObserver(() => onChange(readTheme())).observe(document.body, { attributes: true, attributeFilter: ["class", "data-vscode-theme-kind"] });
}

// Colour arithmetic lives in common/ (no DOM), where the contrast checks and their unit tests use it too.
export { mix, parseColor } from "../common/color";
