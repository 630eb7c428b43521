// Every message between the extension host and the Runs view (the run table, the comparison, the tier
// timeline, exports), declared once; both bundles import this file and the host checks what the view sends
// with `parseRunsMessage`. No DOM, no Node: plain types and a validator.
import { RUN_ID_PATTERN, type Cutoffs } from "../protocol/protocol.generated";
import { validateSharedMessage } from "./messages";

export type RunStatusLabel = "completed" | "stopped" | "error" | "running" | "ended early";

/** One row of the runs table: the figures src/runs/runRecord.ts computes from a run's events. */
export interface RunSummary {
  id: string;
  /** The name the user gave it (meta.json), else the id. */
  name: string;
  status: RunStatusLabel;
  method: string | null;
  preset: string | null;
  nParams: number | null;
  device: string | null;
  cutoffs: Cutoffs | null;
  steps: number | null;
  maxSteps: number | null;
  finalLoss: number | null;
  finalValLoss: number | null;
  bestValLoss: number | null;
  /** Mean tokens/s over the run's step events. */
  tokensPerS: number | null;
  /** Highest device peak (CUDA) or, on CPU, highest resident set size, in bytes. */
  peakMemoryBytes: number | null;
  peakMemoryKind: "device" | "resident" | null;
  /** 1 - optimizer state held / full AdamW's, at the end. */
  stateSaved: number | null;
  /** Seconds: the trainer's wall time from `done`, else the training clock. */
  durationS: number | null;
  /** ISO time the run was launched. */
  startedAt: string | null;
  tags: string[];
  note: string;
}

export interface CompareRow {
  id: string;
  name: string;
  method: string | null;
  isBaseline: boolean;
  steps: number | null;
  finalValLoss: number | null;
  valGap: number | null;
  speedup: number | null;
  /** Seconds on the training clock to the baseline's final val loss; null when never reached. */
  timeToBaselineVal: number | null;
  memorySaved: number | null;
  stateSaved: number | null;
  durationS: number | null;
}

export interface Comparison {
  baselineId: string;
  /** The baseline's final val loss, the target of `timeToBaselineVal`. */
  target: number | null;
  rows: CompareRow[];
  /** Settings that differ between the runs: key -> value per run (JSON text, "—" when absent). */
  configDiff: Array<{ key: string; values: string[] }>;
}

/** The charts of a comparison, in display order. */
export const COMPARE_CHARTS = ["loss", "loss_smoothed", "val_loss", "tokens_per_s", "memory", "state", "cold_share", "hot_share"] as const;
export type CompareChartName = (typeof COMPARE_CHARTS)[number];

/** One run's downsampled series for one chart: step and training clock per point (same rows). */
export interface OverlaySeries {
  step: number[];
  wall: number[];
  value: Array<number | null>;
}

export interface CompareView {
  runs: Array<{ id: string; name: string }>;
  comparison: Comparison;
  /** Per chart, per run (index-aligned with `runs`). */
  charts: Record<CompareChartName, OverlaySeries[]>;
  /** What the memory chart shows: device peak (CUDA) or resident set size (CPU). */
  memoryKind: "device" | "resident" | "mixed" | null;
  smoothing: number;
  /** The summary table as `hima compare` prints it: column titles and text cells per run (baseline marked "*"). */
  table: { columns: string[]; cells: string[][] };
  /** The plain-text table (as `hima compare` prints it), for the clipboard. */
  text: string;
}

/** The tier timeline of one run: a tier per tensor at each re-tier (0 hot, 1 warm, 2 cold, 255 not yet). */
export interface TimelineView {
  id: string;
  name: string;
  tensors: Array<{ name: string; group: string; kind: string; numel: number; layer: number | null; shape: number[] }>;
  frames: Array<{ step: number; tiers: number[]; pinned: number[] }>;
  lastStep: number;
  live: boolean;
}

export type RunsHostToView =
  | { kind: "runs"; runs: RunSummary[]; folder: string; seq: number }
  | { kind: "compare"; view: CompareView; seq: number }
  | { kind: "timeline"; view: TimelineView; seq: number }
  | { kind: "notice"; level: "info" | "error"; text: string };

export type ExportFormat = "csv" | "tensorboard" | "markdown";
export const EXPORT_FORMATS: readonly ExportFormat[] = ["csv", "tensorboard", "markdown"];

export type RunsViewToHost =
  | { kind: "ready" }
  | { kind: "refresh" }
  | { kind: "compare"; ids: string[]; baseline: string; smoothing: number }
  | { kind: "timeline"; id: string }
  | { kind: "setMeta"; id: string; tags: string[]; note: string }
  | { kind: "rename"; id: string }
  | { kind: "delete"; id: string }
  | { kind: "openRun"; id: string }
  | { kind: "export"; format: ExportFormat; ids: string[]; baseline: string | null }
  /** A chart or tier map as PNG (data: URL), for the host to save where the user says. */
  | { kind: "savePng"; name: string; dataUrl: string }
  | { kind: "painted"; seq: number };

const MAX_RUNS_IN_MESSAGE = 500;
const isId = (x: unknown): x is string => typeof x === "string" && RUN_ID_PATTERN.test(x);
const isIdList = (x: unknown): x is string[] => Array.isArray(x) && x.length <= MAX_RUNS_IN_MESSAGE && x.every(isId);

/** Checks a message from the Runs view: the typed message, or the reason it is dropped. */
export function parseRunsMessage(raw: unknown): RunsViewToHost | string {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return "message is not an object";
  const m = raw as Record<string, unknown>;
  switch (m.kind) {
    case "ready":
    case "refresh":
      return { kind: m.kind };
    case "compare":
      if (!isIdList(m.ids) || m.ids.length < 1) return "compare: ids must be a list of run ids";
      if (!isId(m.baseline) || !m.ids.includes(m.baseline)) return "compare: baseline must be one of the ids";
      if (typeof m.smoothing !== "number" || !(m.smoothing >= 0 && m.smoothing < 1)) return "compare: smoothing must be in [0, 1)";
      return { kind: "compare", ids: m.ids, baseline: m.baseline, smoothing: m.smoothing };
    case "timeline":
    case "rename":
    case "delete":
    case "openRun":
      if (!isId(m.id)) return `${m.kind}: id must be a run id`;
      return { kind: m.kind, id: m.id };
    case "setMeta":
      if (!isId(m.id)) return "setMeta: id must be a run id";
      if (!Array.isArray(m.tags) || !m.tags.every((t) => typeof t === "string")) return "setMeta: tags must be a list of strings";
      if (typeof m.note !== "string") return "setMeta: note must be a string";
      return { kind: "setMeta", id: m.id, tags: m.tags as string[], note: m.note };
    case "export":
      if (!(EXPORT_FORMATS as readonly unknown[]).includes(m.format)) return `export: format must be one of ${EXPORT_FORMATS.join(", ")}`;
      if (!isIdList(m.ids) || m.ids.length < 1) return "export: ids must be a list of run ids";
      if (m.baseline !== null && (!isId(m.baseline) || !m.ids.includes(m.baseline))) return "export: baseline must be null or one of the ids";
      return { kind: "export", format: m.format as ExportFormat, ids: m.ids, baseline: m.baseline as string | null };
    case "savePng":
    case "painted":
      return validateSharedMessage(m);
    default:
      return `unknown message kind ${JSON.stringify(String(m.kind)).slice(0, 60)}`;
  }
}
