// The comparison of runs against a baseline, as `hima compare` prints it, the Markdown report holds it and the
// runs view's summary table shows it. Every figure is defined once, here:
//   speedup        baseline's mean step time / the run's (training clock per step; > 1 is faster)
//   time to base   training-clock seconds until the run's val loss first reaches the baseline's final val loss
//   memory saved   1 - the run's peak memory / the baseline's (device peak on CUDA, resident set on CPU)
//   state saved    1 - the run's optimizer state / the baseline's, at the end
//   val gap        the run's final val loss - the baseline's (negative is better)
import type { CompareRow, Comparison } from "../../common/runsMessages";
import { timeToReach, type RunRecord, type RunSummary } from "./runRecord";

export type { CompareRow, Comparison };

/** Mean milliseconds per optimizer step: the training clock at the last step event over its step. */
function meanStepMs(r: RunRecord): number | null {
  const s = r.series.step_time_ms;
  const n = s.step.length;
  return n && s.step[n - 1] > 0 && s.wall[n - 1] > 0 ? (1000 * s.wall[n - 1]) / s.step[n - 1] : null;
}

function finalState(r: RunRecord): number | null {
  if (r.done) return r.done.summary.optimizer_state_bytes;
  const s = r.series.state_total_bytes.value;
  return s.length ? s[s.length - 1] : null;
}

const ratio = (a: number | null, b: number | null) => (a !== null && b !== null && b > 0 ? a / b : null);

export function compareRuns(runs: RunRecord[], baselineId?: string): Comparison {
  if (runs.length === 0) throw new Error("nothing to compare");
  const base = runs.find((r) => r.summary.id === baselineId) ?? runs[0];
  if (baselineId !== undefined && base.summary.id !== baselineId) throw new Error(`baseline ${baselineId} is not among the runs`);
  const target = base.summary.finalValLoss;
  const baseStep = meanStepMs(base);
  const baseState = finalState(base);
  const rows = runs.map((r): CompareRow => {
    const s = r.summary;
    const memRatio = s.peakMemoryKind === base.summary.peakMemoryKind ? ratio(s.peakMemoryBytes, base.summary.peakMemoryBytes) : null;
    const stateRatio = ratio(finalState(r), baseState);
    const stepRatio = ratio(baseStep, meanStepMs(r));
    return {
      id: s.id,
      name: s.name,
      method: s.method,
      isBaseline: r === base,
      steps: s.steps,
      finalValLoss: s.finalValLoss,
      valGap: s.finalValLoss !== null && target !== null ? s.finalValLoss - target : null,
      speedup: stepRatio,
      timeToBaselineVal: target !== null ? timeToReach(r.series.val_loss, target) : null,
      memorySaved: memRatio !== null ? 1 - memRatio : null,
      stateSaved: stateRatio !== null ? 1 - stateRatio : null,
      durationS: s.durationS,
    };
  });
  return { baselineId: base.summary.id, target, rows, configDiff: configDiff(runs) };
}

/** Flattens a config object into dotted keys: {a: {b: 1}} -> [["a.b", "1"]]. Arrays are one value. */
export function flattenConfig(value: unknown, prefix = "", out = new Map<string, string>()): Map<string, string> {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) flattenConfig(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix) {
    out.set(prefix, JSON.stringify(value) ?? "null");
  }
  return out;
}

/** The launch settings of a run that a comparison should show side by side. */
function settingsOf(r: RunRecord): Map<string, string> {
  const m = flattenConfig(r.hello?.config ?? {});
  const h = r.hello;
  if (h) {
    m.set("method", JSON.stringify(h.method));
    m.set("preset", JSON.stringify(h.model.preset));
    m.set("cutoffs.hot", JSON.stringify(h.cutoffs.hot));
    m.set("cutoffs.warm", JSON.stringify(h.cutoffs.warm));
    m.set("max_steps", JSON.stringify(h.max_steps));
    m.set("device", JSON.stringify(h.device));
    m.set("nproc", JSON.stringify(h.nproc ?? 1));
  }
  return m;
}

/** Keys whose value differs between at least two runs, sorted; "—" where a run does not have the key. */
export function configDiff(runs: RunRecord[]): Array<{ key: string; values: string[] }> {
  const maps = runs.map(settingsOf);
  const keys = new Set(maps.flatMap((m) => [...m.keys()]));
  const out: Array<{ key: string; values: string[] }> = [];
  for (const key of [...keys].sort()) {
    if (key === "run_id" || key.endsWith(".run_id") || key === "out" || key.endsWith(".out")) continue; // differ by construction
    const values = maps.map((m) => m.get(key) ?? "—");
    if (values.some((v) => v !== values[0])) out.push({ key, values });
  }
  return out;
}

// ---- text forms ------------------------------------------------------------------------------------------

const pct = (x: number | null) => (x === null ? "—" : `${(100 * x).toFixed(1)}%`);
const num = (x: number | null, digits = 3) => (x === null ? "—" : x.toFixed(digits));
const signed = (x: number | null) => (x === null ? "—" : `${x >= 0 ? "+" : ""}${x.toFixed(3)}`);

export function formatSeconds(s: number | null): string {
  if (s === null || !Number.isFinite(s)) return "—";
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(Math.round(s % 60)).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, "0")}m`;
}

export const COMPARE_COLUMNS = ["run", "method", "steps", "final val", "val gap", "speedup", "time to base val", "memory saved", "state saved", "duration"] as const;

/** The summary table's cells, as text, one array per run (the baseline marked with "*"). */
export function compareCells(c: Comparison): string[][] {
  return c.rows.map((r) => [
    `${r.isBaseline ? "* " : ""}${r.name}`,
    r.method ?? "—",
    r.steps === null ? "—" : String(r.steps),
    num(r.finalValLoss),
    r.isBaseline ? "(baseline)" : signed(r.valGap),
    r.speedup === null ? "—" : `${r.speedup.toFixed(2)}×`,
    r.timeToBaselineVal === null ? (c.target === null ? "—" : "not reached") : formatSeconds(r.timeToBaselineVal),
    r.isBaseline ? "—" : pct(r.memorySaved),
    r.isBaseline ? "—" : pct(r.stateSaved),
    formatSeconds(r.durationS),
  ]);
}

/** The table as aligned plain text (what `hima compare` prints). */
export function formatComparison(c: Comparison): string {
  const rows = [COMPARE_COLUMNS.slice() as string[], ...compareCells(c)];
  const widths = COMPARE_COLUMNS.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join("  ").trimEnd();
  const out = [line(rows[0]), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)];
  out.push("");
  out.push(`baseline: ${c.baselineId}${c.target !== null ? ` (final val loss ${c.target.toFixed(3)})` : " (no val loss: time to base val cannot be measured)"}`);
  out.push("speedup = baseline step time / run step time; time to base val and duration use the training clock (sum of step times)");
  if (c.configDiff.length) {
    out.push("", "settings that differ:");
    const kw = Math.max(...c.configDiff.map((d) => d.key.length));
    for (const d of c.configDiff) out.push(`  ${d.key.padEnd(kw)}  ${d.values.join("  |  ")}`);
  }
  return out.join("\n");
}

const mdEscape = (s: string) => s.replace(/\\/g, "\\\\").replace(/\|/g, "\\|").replace(/[\r\n]+/g, " ").replace(/([*_`<>[\]])/g, "\\$1");

function summaryLine(s: RunSummary): string {
  return `${s.method ?? "?"}${s.preset ? ` · ${s.preset}` : ""}${s.cutoffs ? ` · hot ${s.cutoffs.hot} / warm ${s.cutoffs.warm}` : ""} · ${s.status}`;
}

/** A Markdown report of a comparison: the summary table, each run's settings line, tags and note, the config diff. */
export function comparisonMarkdown(runs: RunRecord[], c: Comparison, now: Date = new Date()): string {
  const out: string[] = [];
  out.push(`# HiMA run comparison`, "", `${runs.length} run${runs.length === 1 ? "" : "s"}, baseline **${mdEscape(c.baselineId)}**${c.target !== null ? ` (final val loss ${c.target.toFixed(3)})` : ""}. Written ${now.toISOString()}.`, "");
  out.push(`| ${COMPARE_COLUMNS.join(" | ")} |`, `|${COMPARE_COLUMNS.map((_, i) => (i < 2 ? "---" : "---:")).join("|")}|`);
  for (const cells of compareCells(c)) out.push(`| ${cells.map(mdEscape).join(" | ")} |`);
  out.push("", "Speedup is the baseline's step time over the run's; time to base val and duration are on the training clock (the sum of step times, without start-up and evaluation). Memory is the device peak (CUDA) or the resident set (CPU); state is the optimizer state at the end.", "");
  out.push("## Runs", "");
  for (const r of runs) {
    const s = r.summary;
    out.push(`- **${mdEscape(s.name)}** (\`${s.id.replace(/`/g, "")}\`): ${mdEscape(summaryLine(s))}; ${s.steps ?? 0} steps; final loss ${num(s.finalLoss)}, best val ${num(s.bestValLoss)}${s.tokensPerS !== null ? `; ${Math.round(s.tokensPerS)} tokens/s` : ""}${s.startedAt ? `; started ${s.startedAt}` : ""}`);
    if (s.tags.length) out.push(`  - tags: ${s.tags.map(mdEscape).join(", ")}`);
    if (s.note) out.push(`  - note: ${mdEscape(s.note)}`);
  }
  if (c.configDiff.length) {
    out.push("", "## Settings that differ", "", `| setting | ${runs.map((r) => mdEscape(r.summary.name)).join(" | ")} |`, `|---|${runs.map(() => "---").join("|")}|`);
    for (const d of c.configDiff) out.push(`| ${mdEscape(d.key)} | ${d.values.map(mdEscape).join(" | ")} |`);
  }
  return `${out.join("\n")}\n`;
}
