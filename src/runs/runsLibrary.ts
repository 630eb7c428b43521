// The runs folder as the Runs view sees it: a summary per run (cached until its event log or meta changes),
// the comparison view (downsampled overlays, summary table, config diff), a run's tier timeline, and the
// edits (tags and note, display name, delete). Plain Node; the `vscode` side is src/views/RunsPanel.ts.
import { promises as fs } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import type { CompareChartName, CompareView, OverlaySeries, RunSummary, TimelineView } from "../../common/runsMessages";
import { debiasedEma } from "../../common/smoothing";
import { MinMaxBuckets } from "../run/downsample";
import { RUN_FOLDER, RUN_ID_PATTERN } from "../../protocol/protocol.generated";
import { findLiveRun, safeRunDir } from "../run/runDiscovery";
import { readRunFile, runFolderProblem, writePrivateFile } from "../run/runFolderCheck";
import { COMPARE_COLUMNS, compareCells, compareRuns, formatComparison } from "./compare";
import { META_FILE, readRunMeta, writeRunMeta } from "./runMeta";
import { readRunRecord, type RunRecord, type Series } from "./runRecord";

/**
 * The table's summaries, kept in the runs folder between sessions (keyed by each log's size and mtime and the
 * meta's mtime), so opening the Runs view after a reload reads only the runs that changed. Its name starts
 * with a dot: never a run id.
 */
export const SUMMARY_CACHE_FILE = ".hima-runs-summaries.json";
const SUMMARY_CACHE_VERSION = 1;

/** Points per run per chart in a comparison. */
export const COMPARE_MAX_POINTS = 1000;

/** One run's series downsampled (min/max per bucket over rows, so step and clock stay paired). */
export function overlay(step: number[], wall: number[], values: ArrayLike<number | null>, maxPoints: number): OverlaySeries {
  const n = step.length;
  const rows = Array.from({ length: n }, (_, i) => i);
  const d = new MinMaxBuckets(maxPoints, 1).output(rows, [Array.from(values)]);
  return { step: d.x.map((i) => step[i]), wall: d.x.map((i) => wall[i]), value: d.ys[0] };
}

const fromSeries = (s: Series, maxPoints: number) => overlay(s.step, s.wall, s.value, maxPoints);

/**
 * A series that holds its value until the next point (tier shares change only at a re-tier), continued to the
 * run's last step so the last tiering is drawn for as long as it lasted.
 */
function heldToEnd(s: Series, r: RunRecord, maxPoints: number): OverlaySeries {
  const o = fromSeries(s, maxPoints);
  const loss = r.series.loss;
  const endStep = loss.step.at(-1);
  const n = o.step.length;
  if (n > 0 && endStep !== undefined && endStep > o.step[n - 1]) {
    o.step.push(endStep);
    o.wall.push(loss.wall.at(-1)!);
    o.value.push(o.value[n - 1]);
  }
  return o;
}

interface Cached {
  key: string;
  record: RunRecord;
}

export class RunsLibrary {
  private readonly cache = new Map<string, Cached>();
  private disk: Map<string, { key: string; summary: RunSummary }> | null = null;

  constructor(readonly runsDir: string) {}

  private async loadDiskCache(): Promise<Map<string, { key: string; summary: RunSummary }>> {
    if (this.disk) return this.disk;
    this.disk = new Map();
    try {
      const raw = JSON.parse(await readRunFile(join(this.runsDir, SUMMARY_CACHE_FILE))) as { version?: unknown; runs?: unknown };
      if (raw.version === SUMMARY_CACHE_VERSION && raw.runs && typeof raw.runs === "object") {
        for (const [id, v] of Object.entries(raw.runs as Record<string, { key?: unknown; summary?: RunSummary }>)) {
          if (RUN_ID_PATTERN.test(id) && typeof v?.key === "string" && v.summary && v.summary.id === id) this.disk.set(id, { key: v.key, summary: v.summary });
        }
      }
    } catch {
      // none yet, or unreadable: rebuilt below
    }
    return this.disk;
  }

  private async saveDiskCache(): Promise<void> {
    if (!this.disk) return;
    const tmp = join(this.runsDir, `${SUMMARY_CACHE_FILE}.${randomBytes(4).toString("hex")}.tmp`);
    try {
      await writePrivateFile(tmp, JSON.stringify({ version: SUMMARY_CACHE_VERSION, runs: Object.fromEntries(this.disk) }));
      await fs.rename(tmp, join(this.runsDir, SUMMARY_CACHE_FILE));
    } catch {
      await fs.rm(tmp, { force: true }).catch(() => undefined); // a read-only runs folder: no cache, no harm
    }
  }

  /** The key a run's cached figures are valid for: its log's size and mtime, its meta's mtime. */
  private async keyOf(id: string): Promise<{ dir: string; key: string }> {
    const dir = safeRunDir(this.runsDir, id);
    const st = await fs.lstat(dir);
    if (!st.isDirectory()) throw new Error(`${id} is not a run folder`);
    const problem = await runFolderProblem(dir);
    if (problem) throw new Error(problem);
    const ev = await fs.lstat(join(dir, RUN_FOLDER.events));
    if (!ev.isFile()) throw new Error(`${id}: ${RUN_FOLDER.events} is not a file`);
    const meta = await fs.lstat(join(dir, META_FILE)).catch(() => null);
    return { dir, key: `${ev.size}:${ev.mtimeMs}:${meta?.mtimeMs ?? 0}` };
  }

  /** Every run folder's summary, newest start first. Unreadable folders are left out. */
  async list(): Promise<RunSummary[]> {
    let names: string[];
    try {
      names = await fs.readdir(this.runsDir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw e;
    }
    const disk = await this.loadDiskCache();
    let changed = false;
    const out: RunSummary[] = [];
    for (const id of names) {
      if (!RUN_ID_PATTERN.test(id)) continue;
      try {
        const { key } = await this.keyOf(id);
        const kept = disk.get(id);
        // A run that was training when cached may have ended since without writing more: read it again.
        if (kept && kept.key === key && kept.summary.status !== "running" && !this.cache.has(id)) {
          out.push(kept.summary);
          continue;
        }
        const r = await this.record(id);
        out.push(r.summary);
        if (kept?.key !== key || JSON.stringify(kept.summary) !== JSON.stringify(r.summary)) {
          disk.set(id, { key: this.cache.get(id)!.key, summary: r.summary });
          changed = true;
        }
      } catch {
        // not a readable run folder: left out of the table
      }
    }
    for (const id of [...this.cache.keys()]) if (!names.includes(id)) this.cache.delete(id);
    for (const id of [...disk.keys()]) {
      if (!names.includes(id)) {
        disk.delete(id);
        changed = true;
      }
    }
    if (changed) await this.saveDiskCache();
    return out.sort((a, b) => (b.startedAt ?? "").localeCompare(a.startedAt ?? "") || a.id.localeCompare(b.id));
  }

  /** A run read whole; re-read only when its event log or meta changed (or it is live). */
  async record(id: string): Promise<RunRecord> {
    const { dir, key } = await this.keyOf(id);
    const hit = this.cache.get(id);
    if (hit && hit.key === key && hit.record.summary.status !== "running") return hit.record;
    let record = await readRunRecord(dir);
    if (!record.done && (await findLiveRun(this.runsDir, id).catch(() => null))) record = await readRunRecord(dir, { live: true });
    this.cache.set(id, { key, record });
    return record;
  }

  async compareView(ids: string[], baseline: string, smoothing: number, maxPoints = COMPARE_MAX_POINTS): Promise<CompareView> {
    const records = await Promise.all(ids.map((id) => this.record(id)));
    const comparison = compareRuns(records, baseline);
    const kinds = new Set(records.map((r) => r.summary.peakMemoryKind).filter((k) => k !== null));
    const charts = {} as Record<CompareChartName, OverlaySeries[]>;
    charts.loss = records.map((r) => fromSeries(r.series.loss, maxPoints));
    charts.loss_smoothed = records.map((r) => overlay(r.series.loss.step, r.series.loss.wall, debiasedEma(r.series.loss.value, smoothing), maxPoints));
    charts.val_loss = records.map((r) => fromSeries(r.series.val_loss, maxPoints));
    // Raw tokens/s is noisy enough to turn into a band when overlaid: smoothed like the loss.
    charts.tokens_per_s = records.map((r) => overlay(r.series.tokens_per_s.step, r.series.tokens_per_s.wall, debiasedEma(r.series.tokens_per_s.value, smoothing), maxPoints));
    charts.memory = records.map((r) => fromSeries(r.series.peak_bytes.step.length ? r.series.peak_bytes : r.series.rss_bytes, maxPoints));
    charts.state = records.map((r) => fromSeries(r.series.state_total_bytes, maxPoints));
    charts.cold_share = records.map((r) => heldToEnd(r.series.cold_share, r, maxPoints));
    charts.hot_share = records.map((r) => heldToEnd(r.series.hot_share, r, maxPoints));
    return {
      runs: records.map((r) => ({ id: r.summary.id, name: r.summary.name })),
      comparison,
      charts,
      memoryKind: kinds.size === 0 ? null : kinds.size > 1 ? "mixed" : ([...kinds][0] as "device" | "resident"),
      smoothing,
      table: { columns: COMPARE_COLUMNS.slice(), cells: compareCells(comparison) },
      text: formatComparison(comparison),
    };
  }

  async timelineView(id: string): Promise<TimelineView> {
    const r = await this.record(id);
    const tensors = r.hello?.tensors ?? [];
    return {
      id: r.summary.id,
      name: r.summary.name,
      tensors: tensors.map((t) => ({ name: t.name, group: t.group, kind: t.kind, numel: t.numel, layer: t.layer, shape: t.shape })),
      frames: r.frames.map((f) => ({ step: f.step, tiers: Array.from(f.tiers), pinned: Array.from(f.pinned) })),
      lastStep: r.summary.steps ?? 0,
      live: r.summary.status === "running",
    };
  }

  async setMeta(id: string, patch: { tags?: string[]; note?: string; name?: string | null }): Promise<void> {
    const dir = safeRunDir(this.runsDir, id);
    const meta = await readRunMeta(dir);
    await writeRunMeta(dir, { ...meta, ...patch });
    this.cache.delete(id);
  }

  /** Deletes a run folder; refuses a run whose trainer is still training. */
  async delete(id: string): Promise<void> {
    const dir = safeRunDir(this.runsDir, id);
    if (await findLiveRun(this.runsDir, id).catch(() => null)) throw new Error(`run ${id} is still training: stop it first`);
    const st = await fs.lstat(dir);
    if (!st.isDirectory()) throw new Error(`${id} is not a run folder`);
    await fs.rm(dir, { recursive: true, force: true });
    this.cache.delete(id);
  }
}
