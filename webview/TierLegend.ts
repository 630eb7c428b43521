// The legend under the tier map: a swatch per tier with its tensor count and share of parameter elements.
import type { TierCounts } from "../protocol/protocol.generated";
import { TIERS } from "../protocol/protocol.generated";
import type { Theme } from "./theme";
import { formatPercent } from "./format";

export class TierLegend {
  readonly element = document.createElement("div");
  private readonly swatches = new Map<string, HTMLElement>();
  private readonly labels = new Map<string, HTMLElement>();
  private readonly stepLabel = document.createElement("span");

  constructor(theme: Theme) {
    this.element.className = "tier-legend";
    this.element.dataset.testid = "tier-legend";
    for (const tier of TIERS) {
      const item = document.createElement("span");
      item.className = "legend-item";
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      const label = document.createElement("span");
      label.dataset.tier = tier;
      item.append(swatch, label);
      this.swatches.set(tier, swatch);
      this.labels.set(tier, label);
      this.element.append(item);
    }
    this.stepLabel.className = "muted";
    this.element.append(this.stepLabel);
    this.setTheme(theme);
    this.setCounts(null, null);
  }

  setTheme(theme: Theme): void {
    for (const tier of TIERS) this.swatches.get(tier)!.style.backgroundColor = theme.tier[tier];
  }

  setCounts(counts: TierCounts | null, step: number | null): void {
    const total = counts ? TIERS.reduce((sum, t) => sum + counts[t].elements, 0) : 0;
    for (const tier of TIERS) {
      const name = tier[0].toUpperCase() + tier.slice(1);
      const c = counts?.[tier];
      this.labels.get(tier)!.textContent = c ? `${name} ${c.tensors} (${formatPercent(total ? c.elements / total : 0)})` : `${name} —`;
    }
    this.stepLabel.textContent = step === null ? "" : `re-tiered at step ${step}`;
  }
}
