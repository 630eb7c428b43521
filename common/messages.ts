// The ONE declaration of every message between the extension host and the panel webview.
// Both bundles import this file; the host validates what the webview sends with `parseWebviewMessage`.
import type { Cutoffs, TensorInfo, Tier, TierCounts } from "../protocol/protocol.generated";
import { cutoffOrderProblem } from "../protocol/contract";
import { TIERS } from "../protocol/protocol.generated";

/** Lifecycle of the run shown in the panel. */
export type RunStatus = "starting" | "running" | "paused" | "stopping" | "done" | "crashed" | "replay";

export interface RunSummaryView {
  id: string;
  method: string;
  preset: string | null;
  device: string;
  status: RunStatus;
  step: number;
  maxSteps: number;
  loss: number | null;
  valLoss: number | null;
  /** Exit description once the trainer process ended, e.g. "exit code 1" or "signal SIGKILL". */
  exit: string | null;
  /** Last stderr lines when the run crashed. */
  errorTail: string[];
}

/** One tensor's current tier as the tier map draws it. Index-aligned with `PanelSnapshot.tensors`. */
export interface TensorState {
  tier: Tier;
  score: number;
  pinned: boolean;
  /**
   * Who pinned it: "policy" for the pins the run started with (norms and biases by default), "user" for a pin
   * set while it ran. Absent when not pinned.
   */
  pinSource?: "policy" | "user";
  /** True when the tensor changed tier at the latest re-tier. */
  changed: boolean;
}

/** Tier changes of one tensor, for the hover card: [step, tier] pairs, oldest first. */
export type TierHistory = Array<[number, Tier]>;

/** A downsampled chart: shared x (step) and named y series (null = gap). */
export interface ChartData {
  x: number[];
  series: Record<string, Array<number | null>>;
}

export interface Charts {
  /** series: loss (raw), val_loss, loss_ema (debiased EMA of the raw loss at full resolution) */
  loss: ChartData;
  /** series: tokens_per_s, tokens_per_s_ema */
  throughput: ChartData;
  /** series: allocated, peak, rss, state_hot, state_warm, state_cold, state_total, evicted (bytes) */
  memory: ChartData;
  /** series: hot, warm, cold (tensor counts) */
  tierCounts: ChartData;
  /**
   * series: utilization (percent), power (W), temperature (degrees C), from memory events' optional `gpu`
   * (NVML); no rows when the run reports none (a CPU run, no nvidia-ml-py): the panel then shows no GPU chart.
   */
  gpu: ChartData;
}

export type ControlState = "pending" | "acked" | "rejected";

export interface ControlStatus {
  id: string;
  /** What was asked, human readable, e.g. "set_cutoffs hot=0.30 warm=0.60". */
  label: string;
  state: ControlState;
  effectiveStep: number | null;
  reason: string | null;
  /** Sent from this window (false: another client, or read back from the log). */
  mine?: boolean;
}

/** The memory spread of a multi-process (torchrun) run, as the panel's per-rank line shows it. */
export interface RankMemoryView {
  min: number;
  max: number;
  nproc: number;
  /** What min/max measure: GPU allocator peak, or (CPU runs, which have none) resident set size. */
  measure?: "peak" | "resident";
  /** Gradient bytes each rank all-reduces per step (Cold tensors send none); absent when not reported yet. */
  allreducePerStep?: number;
}

/** Everything the panel needs to draw from scratch. Sent after `ready` and whenever the view becomes visible. */
export interface PanelSnapshot {
  run: RunSummaryView | null;
  tensors: TensorInfo[];
  tiers: TensorState[];
  tierStep: number | null;
  counts: TierCounts | null;
  cutoffs: Cutoffs | null;
  history: TierHistory[];
  charts: Charts;
  controls: ControlStatus[];
  /** Per-rank memory spread for multi-process runs (min/max bytes over ranks), null for one process. */
  rankMemory: RankMemoryView | null;
  /** Whether controls can be sent (a live run). */
  live: boolean;
}

/** Incremental update: only the parts that changed since the last message. */
export interface PanelUpdate {
  run?: RunSummaryView | null;
  /** The tensor list, when a `hello` brought a new model after the last snapshot (e.g. the panel opened while the run was starting). */
  tensors?: TensorInfo[];
  tiers?: { step: number; states: TensorState[]; counts: TierCounts; cutoffs: Cutoffs; history: TierHistory[] };
  charts?: Charts;
  controls?: ControlStatus[];
  rankMemory?: PanelSnapshot["rankMemory"];
  live?: boolean;
}

export type HostToWebview =
  | { kind: "snapshot"; snapshot: PanelSnapshot; seq: number }
  | { kind: "update"; update: PanelUpdate; seq: number }
  | { kind: "notice"; level: "info" | "error"; text: string };

/** The messages both webviews (the panel and the Runs view) send: a chart saved as PNG, a frame painted. */
export type SharedWebviewMessage = { kind: "savePng"; name: string; dataUrl: string } | { kind: "painted"; seq: number };

/** Checks a `savePng` or `painted` message (the caller switched on `kind`); a reason string when it is refused. */
export function validateSharedMessage(m: Record<string, unknown>): SharedWebviewMessage | string {
  if (m.kind === "savePng") {
    if (typeof m.name !== "string" || !/^[\w .()-]{1,80}$/.test(m.name)) return "savePng: name must be a short plain file name";
    if (typeof m.dataUrl !== "string" || !m.dataUrl.startsWith("data:image/png;base64,") || m.dataUrl.length > 40_000_000) return "savePng: dataUrl must be a PNG data URL";
    return { kind: "savePng", name: m.name, dataUrl: m.dataUrl };
  }
  if (typeof m.seq !== "number" || !Number.isInteger(m.seq)) return "painted: seq must be an integer";
  return { kind: "painted", seq: m.seq };
}

export type WebviewCommand = "stop" | "pause" | "resume" | "checkpoint" | "startTraining" | "openRun";
export const WEBVIEW_COMMANDS: readonly WebviewCommand[] = ["stop", "pause", "resume", "checkpoint", "startTraining", "openRun"];

export type WebviewToHost =
  | { kind: "ready" }
  | { kind: "setCutoffs"; hot: number; warm: number }
  | { kind: "pin"; name: string; tier: Tier }
  | { kind: "unpin"; name: string }
  | { kind: "command"; command: WebviewCommand }
  /** Smoothing of the loss and tokens/s EMA lines, in [0, 1): the host smooths the full-resolution series. */
  | { kind: "setSmoothing"; smoothing: number }
  /** A chart or the tier map as PNG (data: URL), for the host to save where the user says. */
  | { kind: "savePng"; name: string; dataUrl: string }
  /** Sent after a frame was painted for update `seq` (used by the panel benchmark and tests). */
  | { kind: "painted"; seq: number };

const isFraction = (x: unknown): x is number => typeof x === "number" && Number.isFinite(x) && x >= 0 && x <= 1;
const isName = (x: unknown): x is string => typeof x === "string" && x.length > 0 && x.length <= 1024;

/**
 * Validates a message received from the webview. Returns the typed message, or a reason string when it is
 * unknown or malformed (the host logs the reason and drops the message).
 */
export function parseWebviewMessage(raw: unknown): WebviewToHost | string {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return "message is not an object";
  const m = raw as Record<string, unknown>;
  switch (m.kind) {
    case "ready":
      return { kind: "ready" };
    case "setCutoffs":
    {
      if (!isFraction(m.hot) || !isFraction(m.warm)) return "setCutoffs: hot and warm must be numbers in [0, 1]";
      const order = cutoffOrderProblem(m.hot, m.warm);
      return order ? `setCutoffs: ${order}` : { kind: "setCutoffs", hot: m.hot, warm: m.warm };
    }
    case "pin":
      if (!isName(m.name)) return "pin: name must be a non-empty string";
      if (!(TIERS as readonly unknown[]).includes(m.tier)) return `pin: tier must be one of ${TIERS.join(", ")}`;
      return { kind: "pin", name: m.name, tier: m.tier as Tier };
    case "unpin":
      if (!isName(m.name)) return "unpin: name must be a non-empty string";
      return { kind: "unpin", name: m.name };
    case "command":
      if (!(WEBVIEW_COMMANDS as readonly unknown[]).includes(m.command)) return `command: unknown command ${String(m.command).slice(0, 40)}`;
      return { kind: "command", command: m.command as WebviewCommand };
    case "setSmoothing":
      if (typeof m.smoothing !== "number" || !(m.smoothing >= 0 && m.smoothing < 1)) return "setSmoothing: smoothing must be a number in [0, 1)";
      return { kind: "setSmoothing", smoothing: m.smoothing };
    case "savePng":
    case "painted":
      return validateSharedMessage(m);
    default:
      return `unknown message kind ${JSON.stringify(String(m.kind)).slice(0, 60)}`;
  }
}
