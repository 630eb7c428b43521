// The legend under the tier map: a swatch per tier with its tensor count and share of parameter elements.
import type { TierCounts } from "../protocol/protocol.generated";
import { TIERS } from "../protocol/protocol.generated";
import type { Cutoffs, Tier } from "../protocol/protocol.generated";
import type { Theme } from "./theme";
import { tierSwatch } from "./tierMarks";
import { shareGap } from "../common/tierShares";
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
    this.sharesNote.className = "shares-note";
    this.sharesNote.dataset.testid = "shares-note";
    this.sharesNote.hidden = true;
    this.element.append(this.stepLabel, this.sharesNote);
    this.setTheme(theme);
    this.setCounts(null, null);
  }

  /** Requested vs achieved shares, shown when pins (or whole tensors) keep the cutoffs from being reached. */
  readonly sharesNote = document.createElement("div");

  setShares(counts: TierCounts | null, cutoffs: Cutoffs | null, pinnedElements: Record<Tier, number>): void {
    const gap = counts && cutoffs ? shareGap(counts, cutoffs, pinnedElements) : null;
    this.sharesNote.hidden = gap === null;
    this.sharesNote.textContent = gap?.text ?? "";
  }

  setTheme(theme: Theme): void {
    // Swatches carry the same corner marks as the map's cells (tiers are not told apart by colour alone).
    for (const tier of TIERS) {
      const old = this.swatches.get(tier)!;
      const next = tierSwatch(tier, theme.tier[tier], theme.background);
      old.replaceWith(next);
      this.swatches.set(tier, next);
    }
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
