// One recorded run, read whole from its event log, as the runs table, the comparison, the exports and the CLI
// see it: every scalar series at full resolution (x = step, plus the training clock at that step) and the
// figures a table row shows. Plain Node (no `vscode`), so `hima compare`/`hima export` and the extension share it.
//
// The training clock ("wall" below) is the sum of the trainer's step times: step events report the mean time of
// the steps since the previous one, so wall(step) = Σ step_time_ms × Δstep. It leaves out start-up and evaluation,
// which is what a time-to-quality comparison between methods should measure.
import type { Cutoffs, Event, EventOf } from "../../protocol/protocol.generated";
import { promises as fs } from "node:fs";
import { readRunConfig, readRunEvents } from "../run/RunStore";
import type { RunStatusLabel, RunSummary } from "../../common/runsMessages";
import { readRunMeta, type RunMeta } from "./runMeta";

export type { RunStatusLabel, RunSummary };

/** The scalar series every run can have, in export order. Units are in the names. */
export const SCALARS = [
  "loss", "val_loss", "lr", "tokens_per_s", "step_time_ms",
  "allocated_bytes", "peak_bytes", "rss_bytes",
  "state_total_bytes", "state_hot_bytes", "state_warm_bytes", "state_cold_bytes", "evicted_bytes",
  "hot_tensors", "warm_tensors", "cold_tensors", "hot_share", "warm_share", "cold_share",
] as const;
export type ScalarName = (typeof SCALARS)[number];

/** One series: points in step order; `wall` is the training clock (seconds) at each point's step. */
export interface Series {
  step: number[];
  wall: number[];
  value: number[];
}


/** A run's tier assignment after one re-tier: index-aligned with `RunRecord.tensors`, 0 hot, 1 warm, 2 cold. */
export interface TierFrame {
  step: number;
  tiers: Uint8Array;
  pinned: Uint8Array;
}


export interface RunRecord {
  dir: string;
  summary: RunSummary;
  hello: EventOf<"hello"> | null;
  done: EventOf<"done"> | null;
  series: Record<ScalarName, Series>;
  /** The tensors of the (last) hello, for the tier timeline. */
  tensors: Array<{ name: string; group: string; kind: string; numel: number }>;
  frames: TierFrame[];
  meta: RunMeta;
}

const TIER_INDEX = { hot: 0, warm: 1, cold: 2 } as const;

function emptySeries(): Record<ScalarName, Series> {
  const s = {} as Record<ScalarName, Series>;
  for (const name of SCALARS) s[name] = { step: [], wall: [], value: [] };
  return s;
}

/** Drops points after `step` (a resumed segment restarts at its checkpoint's step). */
function truncateAfter(series: Series, step: number): void {
  let n = series.step.length;
  while (n > 0 && series.step[n - 1] > step) n--;
  series.step.length = n;
  series.wall.length = n;
  series.value.length = n;
}

/**
 * Folds a run's events into its series and summary. Pure: the same events give the same record.
 * `id`, `dir`, `meta` and `startedAt` come from the run folder.
 */
export function foldRun(events: Iterable<Event>, where: { id: string; dir: string; meta?: RunMeta; startedAt?: string | null; live?: boolean }): RunRecord {
  const series = emptySeries();
  let hello: EventOf<"hello"> | null = null;
  let done: EventOf<"done"> | null = null;
  let fatal = false;
  let wall = 0;
  let lastStep = 0;
  let frames: TierFrame[] = [];
  let tensorIndex = new Map<string, number>();
  let lastMemory: EventOf<"memory"> | null = null;
  const put = (name: ScalarName, step: number, value: number | null | undefined) => {
    if (value === null || value === undefined || !Number.isFinite(value)) return;
    const s = series[name];
    s.step.push(step);
    s.wall.push(wall);
    s.value.push(value);
  };
  for (const e of events) {
    switch (e.type) {
      case "hello": {
        hello = e;
        done = null;
        fatal = false;
        for (const name of SCALARS) truncateAfter(series[name], e.start_step);
        frames = frames.filter((f) => f.step <= e.start_step);
        const loss = series.loss;
        wall = loss.wall.length ? loss.wall[loss.wall.length - 1] : 0;
        lastStep = e.start_step;
        tensorIndex = new Map(e.tensors.map((t, i) => [t.name, i]));
        break;
      }
      case "step":
        wall += (e.step_time_ms / 1000) * Math.max(1, e.step - lastStep);
        lastStep = e.step;
        put("loss", e.step, e.loss);
        put("lr", e.step, e.lr);
        put("tokens_per_s", e.step, e.tokens_per_s);
        put("step_time_ms", e.step, e.step_time_ms);
        break;
      case "eval":
        put("val_loss", e.step, e.val_loss);
        break;
      case "memory": {
        lastMemory = e;
        put("allocated_bytes", e.step, e.allocated_bytes);
        put("peak_bytes", e.step, e.peak_bytes);
        put("rss_bytes", e.step, e.rss_bytes);
        const s = e.optimizer_state_bytes;
        put("state_total_bytes", e.step, s.total);
        put("state_hot_bytes", e.step, s.hot);
        put("state_warm_bytes", e.step, s.warm);
        put("state_cold_bytes", e.step, s.cold);
        put("evicted_bytes", e.step, e.evicted_bytes);
        break;
      }
      case "tiers": {
        const c = e.counts;
        put("hot_tensors", e.step, c.hot.tensors);
        put("warm_tensors", e.step, c.warm.tensors);
        put("cold_tensors", e.step, c.cold.tensors);
        const total = c.hot.elements + c.warm.elements + c.cold.elements;
        if (total > 0) {
          put("hot_share", e.step, c.hot.elements / total);
          put("warm_share", e.step, c.warm.elements / total);
          put("cold_share", e.step, c.cold.elements / total);
        }
        const n = hello?.tensors.length ?? 0;
        const tiers = new Uint8Array(n).fill(255);
        const pinned = new Uint8Array(n);
        for (const t of e.tensors) {
          const i = tensorIndex.get(t.name);
          if (i === undefined) continue;
          tiers[i] = TIER_INDEX[t.tier];
          pinned[i] = t.pinned ? 1 : 0;
        }
        if (frames.length && frames[frames.length - 1].step === e.step) frames[frames.length - 1] = { step: e.step, tiers, pinned };
        else frames.push({ step: e.step, tiers, pinned });
        break;
      }
      case "error":
        if (e.fatal) fatal = true;
        break;
      case "done":
        done = e;
        break;
      default:
        break;
    }
  }
  const meta = where.meta ?? { name: null, tags: [], note: "" };
  const values = (n: ScalarName) => series[n].value;
  const last = (n: ScalarName) => (values(n).length ? values(n)[values(n).length - 1] : null);
  const peakDevice = maxOf(values("peak_bytes"));
  const peakRss = maxOf(values("rss_bytes"));
  const tps = values("tokens_per_s");
  let stateSaved: number | null = null;
  if (done && done.summary.full_optimizer_state_bytes > 0) stateSaved = 1 - done.summary.optimizer_state_bytes / done.summary.full_optimizer_state_bytes;
  else if (lastMemory && lastMemory.full_optimizer_state_bytes > 0) stateSaved = 1 - lastMemory.optimizer_state_bytes.total / lastMemory.full_optimizer_state_bytes;
  const status: RunStatusLabel = done ? (done.reason === "error" ? "error" : done.reason) : where.live ? "running" : fatal ? "error" : "ended early";
  const h = hello as EventOf<"hello"> | null;
  const d = done as EventOf<"done"> | null;
  const lastOfSteps = Math.max(last("loss") !== null ? series.loss.step[series.loss.step.length - 1] : 0, d?.step ?? 0);
  const summary: RunSummary = {
    id: where.id,
    name: meta.name || where.id,
    status,
    method: h?.method ?? null,
    preset: h?.model.preset ?? null,
    nParams: h?.model.n_params ?? null,
    device: h?.device ?? null,
    cutoffs: h?.cutoffs ?? null,
    steps: h ? lastOfSteps : null,
    maxSteps: h?.max_steps ?? null,
    finalLoss: d?.summary.last_loss ?? last("loss"),
    finalValLoss: last("val_loss") ?? d?.summary.last_val_loss ?? null,
    bestValLoss: minOf(values("val_loss")) ?? d?.summary.last_val_loss ?? null,
    tokensPerS: tps.length ? tps.reduce((a, b) => a + b, 0) / tps.length : null,
    peakMemoryBytes: peakDevice ?? peakRss,
    peakMemoryKind: peakDevice !== null ? "device" : peakRss !== null ? "resident" : null,
    stateSaved,
    durationS: d?.summary.wall_time_s ?? (series.loss.wall.length ? wall : null),
    startedAt: where.startedAt ?? null,
    tags: meta.tags,
    note: meta.note,
  };
  return {
    dir: where.dir, summary, hello: h, done: d, series,
    tensors: h ? h.tensors.map((t) => ({ name: t.name, group: t.group, kind: t.kind, numel: t.numel })) : [],
    frames, meta,
  };
}

function maxOf(xs: number[]): number | null {
  let m: number | null = null;
  for (const x of xs) if (m === null || x > m) m = x;
  return m;
}

function minOf(xs: number[]): number | null {
  let m: number | null = null;
  for (const x of xs) if (m === null || x < m) m = x;
  return m;
}

/** The training clock (seconds) at which `series` first reaches `target` or lower, or null if it never does. */
export function timeToReach(series: Series, target: number): number | null {
  for (let i = 0; i < series.value.length; i++) if (series.value[i] <= target) return series.wall[i];
  return null;
}

/** The run folder's id: its last path segment. */
export function runIdOf(dir: string): string {
  const parts = dir.replace(/[\\/]+$/, "").split(/[\\/]/);
  return parts[parts.length - 1] || dir;
}

/** Reads a run folder whole. `live` says whether a trainer is still writing it (the caller knows). */
export async function readRunRecord(dir: string, opts: { live?: boolean } = {}): Promise<RunRecord> {
  const { events } = await readRunEvents(dir);
  const meta = await readRunMeta(dir);
  const config = await readRunConfig(dir);
  let startedAt = typeof config?.createdAt === "string" ? config.createdAt : null;
  if (!startedAt) {
    const st = await fs.lstat(dir).catch(() => null);
    startedAt = st ? new Date(st.birthtimeMs || st.mtimeMs).toISOString() : null;
  }
  return foldRun(events, { id: runIdOf(dir), dir, meta, startedAt, live: opts.live });
}
