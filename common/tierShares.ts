// Requested vs achieved tier shares. Cutoffs ask for element shares (Hot `hot`, Warm `warm - hot`, Cold
// `1 - warm`); pins (and whole tensors or depth units) can keep them from being reached: pinning the embedding
// Cold and then asking for warm = 0.8 leaves Cold at the embedding's share. When the two differ visibly, the
// legend says so and why. Pure, so it is unit-tested without a page.
import type { Cutoffs, Tier, TierCounts } from "../protocol/protocol.generated";
import { TIERS } from "../protocol/protocol.generated";

/** Share points (of 100) below which requested and achieved count as the same. */
export const SHARE_TOLERANCE = 0.02;
/** Without a pin to blame, a gap this small is the granularity of whole tensors (or depth units): not worth a note. */
export const GRANULARITY_TOLERANCE = 0.05;

export interface ShareGap {
  requested: Record<Tier, number>;
  achieved: Record<Tier, number>;
  /** Element share pinned in each tier. */
  pinned: Record<Tier, number>;
  /** One sentence for the legend. */
  text: string;
}

const pct = (x: number) => `${Math.round(100 * x)}%`;

export function shareGap(counts: TierCounts, cutoffs: Cutoffs, pinnedElements: Record<Tier, number>): ShareGap | null {
  const total = TIERS.reduce((s, t) => s + counts[t].elements, 0);
  if (total <= 0) return null;
  const requested: Record<Tier, number> = { hot: cutoffs.hot, warm: Math.max(0, cutoffs.warm - cutoffs.hot), cold: Math.max(0, 1 - cutoffs.warm) };
  const achieved = Object.fromEntries(TIERS.map((t) => [t, counts[t].elements / total])) as Record<Tier, number>;
  const pinned = Object.fromEntries(TIERS.map((t) => [t, pinnedElements[t] / total])) as Record<Tier, number>;
  const off = TIERS.filter((t) => Math.abs(achieved[t] - requested[t]) > SHARE_TOLERANCE);
  if (off.length === 0) return null;
  const name = (t: Tier) => t[0].toUpperCase() + t.slice(1);
  const parts = off.map((t) => `${name(t)} ${pct(achieved[t])} (asked ${pct(requested[t])})`);
  // Pins explain it when a tier holds more pinned elements than it was asked to, or pins fill what a tier lacks.
  const pinBlocked = off.filter((t) => pinned[t] > requested[t] + SHARE_TOLERANCE);
  if (pinBlocked.length === 0 && off.every((t) => Math.abs(achieved[t] - requested[t]) <= GRANULARITY_TOLERANCE)) return null;
  const why = pinBlocked.length
    ? `pins hold ${pinBlocked.map((t) => `${pct(pinned[t])} of the elements ${name(t)}`).join(" and ")}, more than asked`
    : TIERS.some((t) => pinned[t] > 0)
      ? "pins and whole tensors (or depth units) keep the cutoffs from being met exactly"
      : "tensors (or depth units) are tiered whole, so shares land near the cutoffs";
  return { requested, achieved, pinned, text: `${parts.join(" · ")}: ${why}.` };
}
