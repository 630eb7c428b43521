// The end-of-run summary of `hima train`: what the run did to the tiers and to optimizer memory, and
// where its files are. Built from the trainer's own `done` summary, so the numbers are the trainer's.
import type { RankMemoryView } from "../../common/messages";
import { rankParts } from "../../common/rankMemory";
import type { EventOf, TierCounts } from "../../protocol/protocol.generated";
import { describeExit, type TrainerExit } from "../run/TrainerHandle";
import { runDevice } from "../run/RunModel";
import { formatBytes, formatCount, formatDuration, formatLoss } from "./format";

export interface RunOutcome {
  runId: string;
  runDir: string;
  hello: EventOf<"hello"> | null;
  done: EventOf<"done"> | null;
  /** The latest eval, in case the run ended without a `done`. */
  lastValLoss: number | null;
  /** Training processes launched (--processes); above 1 the summary says so and shows `ranks`. */
  processes?: number;
  /** The latest per-rank memory spread and all-reduce figure (multi-process runs), as the panel shows it. */
  ranks?: RankMemoryView | null;
  /** The trainer's fatal `error` event, if any: the reason a run failed, which under torchrun the stderr tail
   * (the launcher's failure report) does not show. */
  fatalError?: string | null;
  exit: TrainerExit;
  wallSeconds: number;
  /** The command that continues this run (a stopped run with a checkpoint). */
  resume?: string | null;
}

function tierLine(counts: TierCounts): string {
  const total = counts.hot.elements + counts.warm.elements + counts.cold.elements;
  const pct = (n: number) => (total > 0 ? `${((100 * n) / total).toFixed(0)}%` : "—");
  return (["hot", "warm", "cold"] as const)
    .map((t) => `${t[0].toUpperCase()}${t.slice(1)} ${counts[t].tensors} tensor${counts[t].tensors === 1 ? "" : "s"} (${formatCount(counts[t].elements)} params, ${pct(counts[t].elements)})`)
    .join(" · ");
}

/** Share of full-AdamW optimizer state not held, e.g. 0.42. */
export function stateSaved(held: number, full: number): number | null {
  return full > 0 ? 1 - held / full : null;
}

export function formatSummary(o: RunOutcome): string {
  const lines: string[] = [];
  const h = o.hello;
  const d = o.done;
  const nproc = h?.nproc ?? o.processes ?? 1;
  const what = h ? `method ${h.method}${h.model.preset ? `, preset ${h.model.preset}` : ""}, ${formatCount(h.model.n_params)} params, ${runDevice(h.device, nproc, h.strategy, h.nnodes ?? 1)}` : "";
  if (d) {
    lines.push(`HiMA run ${o.runId}: ${d.reason} at step ${d.step}${h ? `/${h.max_steps}` : ""} in ${formatDuration(d.summary.wall_time_s)} (${what})`);
    const s = d.summary;
    lines.push(`  loss         ${formatLoss(s.first_loss)} -> ${formatLoss(s.last_loss)} (first -> last step)${s.last_val_loss !== null ? `, val ${formatLoss(s.last_val_loss)}` : ""}`);
    lines.push(`  tiers        ${tierLine(s.counts)}`);
    const saved = stateSaved(s.optimizer_state_bytes, s.full_optimizer_state_bytes);
    lines.push(
      `  optimizer    ${formatBytes(s.optimizer_state_bytes)} of state held${nproc > 1 ? " on each rank" : ""} vs ${formatBytes(s.full_optimizer_state_bytes)} for full AdamW` +
        (saved !== null ? ` (${(saved * 100).toFixed(1)}% saved)` : ""),
    );
    lines.push(`  transitions  ${s.transitions} tier changes`);
    if (s.checkpoint) lines.push(`  checkpoint   ${s.checkpoint}`);
    if (o.resume) lines.push(`  resume       ${o.resume}`);
  } else {
    lines.push(`HiMA run ${o.runId}: ended without finishing (${describeExit(o.exit)})${what ? ` (${what})` : ""}`);
    if (o.fatalError) lines.push(`  error        ${o.fatalError}`);
    if (o.lastValLoss !== null) lines.push(`  last val     ${formatLoss(o.lastValLoss)}`);
  }
  if (nproc > 1) lines.push(`  ranks        ${o.ranks ? rankParts(o.ranks).join(" · ") : `${nproc} processes (no per-rank memory reported)`}`);
  lines.push(`  wall time    ${formatDuration(o.wallSeconds)} (including start-up)`);
  lines.push(`  run dir      ${o.runDir}`);
  if (o.exit.crashed) {
    lines.push(`  trainer      ${describeExit(o.exit)}; last stderr lines:`);
    for (const l of o.exit.stderrTail.slice(-20)) lines.push(`    ${l}`);
    if (o.exit.stderrTail.some((l) => /No module named '?(hima|torch)/.test(l))) {
      lines.push("  hint         the trainer is not installed in this Python: run `bash scripts/demo.sh`, or `pip install ./trainer`, or pass --python");
    }
  }
  return lines.join("\n");
}
