// Folds protocol events into what the panel draws (common/messages.ts). Per event the work is O(1)
// amortised (plus the size of the event itself: a `tiers` event lists every tensor); tier history grows
// only when a tensor changes tier; downsampling happens only when a snapshot or update is taken.
import type { ChartData, Charts, ControlStatus, PanelSnapshot, RankMemoryView, PanelUpdate, RunStatus, RunSummaryView, TensorState, TierHistory } from "../../common/messages";
import { rankMemoryView } from "../../common/rankMemory";
import { DebiasedEma, debiasedEma } from "../../common/smoothing";
import type { Control, Cutoffs, Event, EventOf, TensorInfo, TierCounts } from "../../protocol/protocol.generated";
import { ChartBuffer } from "./ChartBuffer";

const DEFAULT_MAX_POINTS = 1000;
/** Loss and tokens/s smoothing until the panel asks for another (TensorBoard's default is 0.6; ours is smoother). */
export const DEFAULT_SMOOTHING = 0.9;
/** Controls kept for the panel's (scrollable) list; older ones are dropped. */
const MAX_CONTROLS = 200;
const MAX_ERROR_LINES = 50;
/**
 * Tier changes per tensor sent to the panel (the newest ones). Its hover card shows the last 6 and an ellipsis
 * when there are more; the full history stays here. Without a cap, a long run's history (thousands of entries)
 * would ride along with every re-tier update.
 */
export const HISTORY_SENT_PER_TENSOR = 8;
const LIVE: ReadonlySet<RunStatus> = new Set(["starting", "running", "paused", "stopping"]);

type ChartName = keyof Charts;

export interface RunModelOptions {
  /** Rows per chart after downsampling. */
  maxPoints?: number;
  /** Run id shown before the trainer's `hello` arrives. */
  runId?: string;
}

export class RunModel {
  private readonly maxPoints: number;
  private run: RunSummaryView | null = null;
  private tensors: TensorInfo[] = [];
  private readonly index = new Map<string, number>();
  private states: TensorState[] = [];
  private history: TierHistory[] = [];
  /** Tensors pinned at the run's first tiering: the policy's pins; any other pin was set while it ran. */
  private policyPins: Set<number> | null = null;
  private tierStep: number | null = null;
  private counts: TierCounts | null = null;
  private cutoffs: Cutoffs | null = null;
  private readonly charts = {
    // *_ema: the debiased EMA of the raw series at full resolution, so its strength does not depend on how much
    // the chart is downsampled (a long run's buckets would otherwise smooth far more than a short run's).
    loss: new ChartBuffer(["loss", "val_loss", "loss_ema"] as const),
    throughput: new ChartBuffer(["tokens_per_s", "tokens_per_s_ema"] as const),
    memory: new ChartBuffer(["allocated", "peak", "rss", "state_hot", "state_warm", "state_cold", "state_total", "evicted"] as const),
    tierCounts: new ChartBuffer(["hot", "warm", "cold"] as const),
    // Memory events' optional NVML figures: no rows at all when the run reports none (the panel then hides it).
    gpu: new ChartBuffer(["utilization", "power", "temperature"] as const),
  };
  private smoothing = DEFAULT_SMOOTHING;
  private lossEma = new DebiasedEma(DEFAULT_SMOOTHING);
  private tokensEma = new DebiasedEma(DEFAULT_SMOOTHING);
  private controls: ControlStatus[] = [];
  private readonly controlById = new Map<string, ControlStatus>();

  // What changed since the last snapshot()/takeUpdate().
  private runDirty = false;
  private tiersDirty = false;
  private tensorsDirty = false;
  private controlsDirty = false;
  /** Multi-process runs: spread over ranks of peak memory (CUDA) or resident memory (CPU). */
  private rankMemory: RankMemoryView | null = null;
  /** Step of the last memory event with a rank spread, to tell when an all-reduce average covers no steps. */
  private rankMemoryStep: number | null = null;
  private rankMemoryDirty = false;
  private liveSent = false;
  private chartVersionsSent = this.chartVersions();

  constructor(opts: RunModelOptions = {}) {
    const maxPoints = opts.maxPoints ?? DEFAULT_MAX_POINTS;
    if (!Number.isInteger(maxPoints) || maxPoints < 2) throw new RangeError(`maxPoints must be an integer >= 2, got ${maxPoints}`);
    this.maxPoints = maxPoints;
    if (opts.runId !== undefined) this.run = placeholderRun(opts.runId, "starting");
  }

  apply(event: Event): void {
    switch (event.type) {
      case "hello":
        return this.onHello(event);
      case "step": {
        this.charts.loss.put(event.step, { loss: event.loss, loss_ema: this.lossEma.push(event.loss) });
        this.charts.throughput.put(event.step, { tokens_per_s: event.tokens_per_s, tokens_per_s_ema: this.tokensEma.push(event.tokens_per_s) });
        return this.updateRun({ step: event.step, loss: finiteOrNull(event.loss) });
      }
      case "eval":
        this.charts.loss.put(event.step, { val_loss: event.val_loss });
        return this.updateRun({ valLoss: finiteOrNull(event.val_loss) });
      case "tiers":
        return this.onTiers(event);
      case "memory": {
        const s = event.optimizer_state_bytes;
        this.charts.memory.put(event.step, {
          allocated: event.allocated_bytes, peak: event.peak_bytes, rss: event.rss_bytes,
          state_hot: s.hot, state_warm: s.warm, state_cold: s.cold, state_total: s.total, evicted: event.evicted_bytes,
        });
        const gpu = event.gpu;
        if (gpu && (gpu.utilization_percent !== undefined || gpu.power_w !== undefined || gpu.temperature_c !== undefined)) {
          this.charts.gpu.put(event.step, { utilization: gpu.utilization_percent ?? null, power: gpu.power_w ?? null, temperature: gpu.temperature_c ?? null });
        }
        if (event.ranks) this.onRankMemory(event.ranks, event.step);
        return;
      }
      case "ack":
        return this.settleControl(event.id, event.control, { state: "acked", effectiveStep: event.effective_step, reason: null });
      case "rejected":
        return this.settleControl(event.id, null, { state: "rejected", effectiveStep: null, reason: event.reason });
      case "status":
        if (this.run && (this.run.status === "running" || this.run.status === "paused")) this.updateRun({ status: event.state, step: event.step });
        return;
      case "error":
        if (event.fatal && this.run) this.updateRun({ errorTail: [...this.run.errorTail, event.message].slice(-MAX_ERROR_LINES) });
        return;
      case "done": {
        const live = this.run !== null && LIVE.has(this.run.status);
        this.updateRun({
          step: event.step,
          loss: event.summary.last_loss ?? this.run?.loss ?? null,
          valLoss: event.summary.last_val_loss ?? this.run?.valLoss ?? null,
          ...(live && event.reason !== "error" ? { status: "done" as const } : {}),
        });
        return;
      }
      case "checkpoint":
        return;
    }
  }

  setStatus(status: RunStatus, exit?: string | null, errorTail?: string[]): void {
    if (!this.run) this.run = placeholderRun("", status);
    this.updateRun({ status, ...(exit !== undefined ? { exit } : {}), ...(errorTail !== undefined ? { errorTail: errorTail.slice(-MAX_ERROR_LINES) } : {}) });
  }

  trackControl(id: string, control: Control): void {
    this.addControl({ id, label: controlLabel(control), state: "pending", effectiveStep: null, reason: null, mine: true });
  }

  snapshot(): PanelSnapshot {
    const snap: PanelSnapshot = {
      run: this.run ? { ...this.run, errorTail: this.run.errorTail.slice() } : null,
      tensors: this.tensors.slice(),
      tiers: this.states.map((s) => ({ ...s })),
      tierStep: this.tierStep,
      counts: this.counts,
      cutoffs: this.cutoffs,
      history: this.historyTail(),
      charts: this.chartData(),
      controls: this.controls.map((c) => ({ ...c })),
      rankMemory: this.rankMemory ? { ...this.rankMemory } : null,
      live: this.live,
    };
    this.markSent();
    return snap;
  }

  takeUpdate(): PanelUpdate | null {
    const update: PanelUpdate = {};
    if (this.runDirty) update.run = this.run ? { ...this.run, errorTail: this.run.errorTail.slice() } : null;
    if (this.tensorsDirty) update.tensors = this.tensors.slice();
    if (this.tiersDirty && this.tierStep !== null && this.counts && this.cutoffs) {
      update.tiers = {
        step: this.tierStep,
        states: this.states.map((s) => ({ ...s })),
        counts: this.counts,
        cutoffs: this.cutoffs,
        history: this.historyTail(),
      };
    }
    const versions = this.chartVersions();
    if (versions.some((v, i) => v !== this.chartVersionsSent[i])) update.charts = this.chartData();
    if (this.controlsDirty) update.controls = this.controls.map((c) => ({ ...c }));
    if (this.rankMemoryDirty) update.rankMemory = this.rankMemory ? { ...this.rankMemory } : null;
    if (this.live !== this.liveSent) update.live = this.live;
    this.markSent();
    return Object.keys(update).length > 0 ? update : null;
  }

  /** The smoothing of the loss and tokens/s EMA series, in [0, 1); recomputed over the whole run. */
  setSmoothing(smoothing: number): void {
    if (!(smoothing >= 0 && smoothing < 1)) throw new RangeError(`smoothing must be in [0, 1), got ${smoothing}`);
    if (smoothing === this.smoothing) return;
    this.smoothing = smoothing;
    this.recomputeEma();
  }

  get currentSmoothing(): number {
    return this.smoothing;
  }

  private recomputeEma(): void {
    const { loss, throughput } = this.charts;
    loss.setColumn("loss_ema", debiasedEma(loss.column("loss"), this.smoothing));
    throughput.setColumn("tokens_per_s_ema", debiasedEma(throughput.column("tokens_per_s"), this.smoothing));
    // The running state continues from the last raw value.
    this.lossEma = new DebiasedEma(this.smoothing);
    for (const v of loss.column("loss")) this.lossEma.push(v);
    this.tokensEma = new DebiasedEma(this.smoothing);
    for (const v of throughput.column("tokens_per_s")) this.tokensEma.push(v);
  }

  /** Whether controls can be sent: the run is live. */
  get live(): boolean {
    return this.run !== null && LIVE.has(this.run.status);
  }

  /** Number of chart rows held at full resolution (steps seen), for tests and diagnostics. */
  get fullResolutionSteps(): number {
    return this.charts.loss.length;
  }

  private onRankMemory(ranks: NonNullable<EventOf<"memory">["ranks"]>, step: number): void {
    const prev = this.rankMemory;
    const next = rankMemoryView(ranks, prev, this.rankMemoryStep !== step);
    this.rankMemoryStep = step;
    const same = prev?.min === next?.min && prev?.max === next?.max && prev?.nproc === next?.nproc
      && prev?.measure === next?.measure && prev?.allreducePerStep === next?.allreducePerStep;
    if (same) return;
    this.rankMemory = next;
    this.rankMemoryDirty = true;
  }

  private onHello(e: EventOf<"hello">): void {
    const sameModel = e.tensors.length === this.tensors.length && e.tensors.every((t, i) => t.name === this.tensors[i].name);
    if (!sameModel) {
      this.tensors = e.tensors.slice();
      this.index.clear();
      this.tensors.forEach((t, i) => this.index.set(t.name, i));
      this.states = this.tensors.map(() => ({ tier: "hot", score: 0, pinned: false, changed: false }));
      this.history = this.tensors.map(() => []);
      this.policyPins = null;
      this.tierStep = null;
      this.counts = null;
      this.tiersDirty = true;
      this.tensorsDirty = true;
    }
    // A resumed segment restarts at its checkpoint's step: later points of the old segment are stale.
    for (const c of Object.values(this.charts)) c.truncateAfter(e.start_step);
    if (e.start_step > 0) this.recomputeEma();
    this.cutoffs = e.cutoffs;
    // "starting" becomes "running", and so does a finished run that a resumed segment continues; a replay, or a
    // stop requested before hello, keeps its status.
    const resumedAfterDone = this.run?.status === "done" && e.start_step > 0;
    const status = !this.run || this.run.status === "starting" || resumedAfterDone ? "running" : this.run.status;
    this.run = {
      id: e.run_id, method: e.method, preset: e.model.preset, device: runDevice(e.device, e.nproc ?? 1, e.strategy, e.nnodes ?? 1), status,
      step: e.start_step, maxSteps: e.max_steps, loss: this.run?.loss ?? null, valLoss: this.run?.valLoss ?? null,
      exit: this.run?.exit ?? null, errorTail: this.run?.errorTail ?? [],
    };
    this.runDirty = true;
  }

  private onTiers(e: EventOf<"tiers">): void {
    const moved = new Set(e.transitions.map((t) => t.name));
    for (const s of this.states) s.changed = false;
    const firstTiering = this.policyPins === null;
    const policy = (this.policyPins ??= new Set());
    for (const t of e.tensors) {
      const i = this.index.get(t.name);
      if (i === undefined) continue; // not in hello: nothing to draw it in
      const before = this.states[i];
      const hist = this.history[i];
      const changed = moved.has(t.name) || (hist.length > 0 && before.tier !== t.tier);
      if (firstTiering && t.pinned) policy.add(i);
      this.states[i] = { tier: t.tier, score: t.score, pinned: t.pinned, changed, ...(t.pinned ? { pinSource: policy.has(i) ? ("policy" as const) : ("user" as const) } : {}) };
      if (hist.length === 0 || hist[hist.length - 1][1] !== t.tier) hist.push([e.step, t.tier]);
    }
    this.tierStep = e.step;
    this.counts = e.counts;
    this.cutoffs = e.cutoffs;
    this.tiersDirty = true;
    this.charts.tierCounts.put(e.step, { hot: e.counts.hot.tensors, warm: e.counts.warm.tensors, cold: e.counts.cold.tensors });
  }

  private settleControl(id: string | null, controlType: string | null, result: Pick<ControlStatus, "state" | "effectiveStep" | "reason">): void {
    const known = id !== null ? this.controlById.get(id) : undefined;
    if (known) {
      Object.assign(known, result);
      this.controlsDirty = true;
      return;
    }
    // Not sent from here (a replayed run, or a line the trainer could not read): still worth showing.
    this.addControl({ id: id ?? "", label: controlType ?? (id ? `control ${id}` : "unreadable control"), ...result, mine: false });
  }

  private addControl(c: ControlStatus): void {
    this.controls.push(c);
    if (c.id) this.controlById.set(c.id, c);
    if (this.controls.length > MAX_CONTROLS) {
      for (const old of this.controls.splice(0, this.controls.length - MAX_CONTROLS)) {
        if (this.controlById.get(old.id) === old) this.controlById.delete(old.id);
      }
    }
    this.controlsDirty = true;
  }

  private updateRun(patch: Partial<RunSummaryView>): void {
    if (!this.run) return; // events before hello carry nothing the panel can place
    Object.assign(this.run, patch);
    this.runDirty = true;
  }

  private historyTail(): TierHistory[] {
    return this.history.map((h) => h.slice(-HISTORY_SENT_PER_TENSOR));
  }

  private chartData(): Charts {
    const data = (name: ChartName): ChartData => this.charts[name].data(this.maxPoints);
    return { loss: data("loss"), throughput: data("throughput"), memory: data("memory"), tierCounts: data("tierCounts"), gpu: data("gpu") };
  }

  private chartVersions(): number[] {
    const c = this.charts;
    return [c.loss.version, c.throughput.version, c.memory.version, c.tierCounts.version, c.gpu.version];
  }

  private markSent(): void {
    this.runDirty = false;
    this.tiersDirty = false;
    this.tensorsDirty = false;
    this.controlsDirty = false;
    this.rankMemoryDirty = false;
    this.liveSent = this.live;
    this.chartVersionsSent = this.chartVersions();
  }
}

function placeholderRun(id: string, status: RunStatus): RunSummaryView {
  return { id, method: "", preset: null, device: "", status, step: 0, maxSteps: 0, loss: null, valLoss: null, exit: null, errorTail: [] };
}

function finiteOrNull(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

/** What the panel's control list says about a control, e.g. "set_cutoffs hot=0.30 warm=0.60". */
export function controlLabel(c: Control): string {
  switch (c.type) {
    case "set_cutoffs":
      return `set_cutoffs hot=${c.hot.toFixed(2)} warm=${c.warm.toFixed(2)}`;
    case "pin":
      return `pin ${c.name} to ${c.tier}`;
    case "unpin":
      return `unpin ${c.name}`;
    default:
      return c.type;
  }
}

/** Where the run trains, for people: "cuda:0", or for N processes (one device each) "4 × cuda", with the
 *  machines when more than one ("8 × cuda on 2 machines") and the sharding when the model is sharded
 *  ("4 × cuda, sharded (FSDP2)"). */
export function runDevice(rank0Device: string, nproc: number, strategy?: string, nnodes = 1): string {
  let where = nproc > 1 ? `${nproc} × ${rank0Device.split(":")[0]}` : rank0Device;
  if (nnodes > 1) where += ` on ${nnodes} machines`;
  return strategy === "fsdp2" ? `${where}, sharded (FSDP2)` : where;
}
