// The per-rank line of a multi-process (torchrun) run: how many processes, the memory spread over ranks and
// the all-reduce traffic. Written once for the panel's run header and the CLI's end-of-run summary.
import type { EventOf } from "../protocol/protocol.generated";
import { formatBytes } from "./formatBytes";
import type { RankMemoryView } from "./messages";

/**
 * The view of a memory event's `ranks` after `prev` (the panel's RunModel and the CLI fold events with it).
 * The all-reduce figure is an average over the steps since the previous memory event; `coversNewSteps` is
 * false for a second event at the same step (the trainer's closing one), whose 0 says nothing, so the
 * previous figure stays. null when no rank reported a memory figure.
 */
export function rankMemoryView(ranks: NonNullable<EventOf<"memory">["ranks"]>, prev: RankMemoryView | null, coversNewSteps: boolean): RankMemoryView | null {
  // Peak allocated memory on GPUs; CPU runs have no allocator peak, so resident memory stands in.
  const measure = ranks.peak_bytes ? "peak" : "resident";
  const spread = ranks.peak_bytes ?? ranks.rss_bytes;
  const allreducePerStep = !coversNewSteps && prev?.allreducePerStep !== undefined ? prev.allreducePerStep : ranks.allreduce_bytes_per_step;
  return spread ? { min: spread.min, max: spread.max, nproc: ranks.nproc, measure, allreducePerStep } : null;
}

/** The per-rank line's parts, shown joined by " · ": "2 processes · peak memory per rank 1.2–1.3 GiB · all-reduce 164 MiB/step". */
export function rankParts(r: RankMemoryView): string[] {
  const what = r.measure === "resident" ? "resident memory per rank" : "peak memory per rank";
  const parts = [`${r.nproc} processes`, `${what} ${spreadText(r.min, r.max)}`];
  if (r.allreducePerStep !== undefined) parts.push(`all-reduce ${formatBytes(r.allreducePerStep)}/step`);
  return parts;
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/** min–max in one unit (the max's), with one more decimal when rounding would hide a real difference. */
function spreadText(min: number, max: number): string {
  let unit = 0;
  while (max >= 1024 ** (unit + 1) && unit < UNITS.length - 1) unit++;
  const scale = 1024 ** unit;
  // A min far below the max's unit (e.g. 900 KiB vs 1.2 GiB) reads better in its own unit.
  if (unit > 0 && min < scale) return `${formatBytes(min)} – ${formatBytes(max)}`;
  const digits = max / scale >= 100 || unit === 0 ? 0 : 1;
  for (const d of [digits, digits + 1]) {
    const [a, b] = [(min / scale).toFixed(d), (max / scale).toFixed(d)];
    if (a !== b) return `${a}–${b} ${UNITS[unit]}`;
  }
  return `${formatBytes(max)} on every rank`;
}
