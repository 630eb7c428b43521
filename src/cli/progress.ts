// The live progress line of `hima train`: redrawn in place on a terminal, a plain line every so often
// when stderr is a pipe or a file (CI logs), so the output stays readable in both.
import type { Event, TierCounts } from "../../protocol/protocol.generated";
import { formatCount, formatDuration, formatLoss } from "./format";

export interface ProgressState {
  step: number;
  maxSteps: number;
  loss: number | null;
  tokensPerS: number | null;
  /** Training processes (hello's nproc); tokens/s then counts the global batch, all of them together. */
  processes?: number;
  counts: TierCounts | null;
  /** Seconds per step measured since the first step, for the ETA. */
  secondsPerStep: number | null;
}

const BAR_WIDTH = 20;

export function formatProgress(p: ProgressState, width = 100): string {
  const frac = p.maxSteps > 0 ? Math.min(1, p.step / p.maxSteps) : 0;
  const filled = Math.round(frac * BAR_WIDTH);
  const bar = `[${"#".repeat(filled)}${".".repeat(BAR_WIDTH - filled)}]`;
  const parts = [
    `${bar} ${String(Math.floor(frac * 100)).padStart(3)}%`,
    `step ${p.step}/${p.maxSteps}`,
    `loss ${formatLoss(p.loss)}`,
    `${p.tokensPerS === null ? "—" : formatCount(p.tokensPerS)} tok/s${(p.processes ?? 1) > 1 ? ` (${p.processes} procs)` : ""}`,
    p.counts ? `Hot/Warm/Cold ${p.counts.hot.tensors}/${p.counts.warm.tensors}/${p.counts.cold.tensors}` : "tiers —",
    `ETA ${p.secondsPerStep === null ? "?" : formatDuration(p.secondsPerStep * Math.max(0, p.maxSteps - p.step))}`,
  ];
  const line = parts.join("  ");
  return line.length > width ? line.slice(0, Math.max(0, width - 1)) + "…" : line;
}

/**
 * The room for the redrawn line: one less than the terminal's width (a line that fills it would wrap). Some
 * terminals report 0 columns or none (`script`, CI consoles): then a sensible 100, not a line cut to nothing.
 */
export function lineWidth(columns: number | undefined): number {
  return columns !== undefined && Number.isFinite(columns) && columns >= 2 ? columns - 1 : 100;
}

export interface ProgressOutput {
  write(text: string): void;
  isTTY: boolean;
  columns?: number;
}

/** Folds events into a ProgressState and draws it. */
export class ProgressBar {
  private state: ProgressState = { step: 0, maxSteps: 0, loss: null, tokensPerS: null, counts: null, secondsPerStep: null };
  private firstStep: { step: number; at: number } | null = null;
  private lastDraw = 0;
  private lastPlainStep = -1;
  private lastPlainAt = 0;
  private drawn = false;

  constructor(
    private readonly out: ProgressOutput,
    private readonly now: () => number = Date.now,
    /** On a pipe: a line at least every this many ms while steps advance, and at every 10%. */
    private readonly plainEveryMs = 15_000,
  ) {}

  get current(): Readonly<ProgressState> {
    return this.state;
  }

  onEvent(e: Event): void {
    const t = this.now();
    switch (e.type) {
      case "hello":
        this.state.maxSteps = e.max_steps;
        this.state.step = e.start_step;
        this.state.processes = e.nproc ?? 1;
        break;
      case "step":
        this.state.step = e.step;
        this.state.loss = e.loss;
        this.state.tokensPerS = e.tokens_per_s;
        if (!this.firstStep) this.firstStep = { step: e.step, at: t };
        else if (e.step > this.firstStep.step) this.state.secondsPerStep = (t - this.firstStep.at) / 1000 / (e.step - this.firstStep.step);
        break;
      case "tiers":
        this.state.counts = e.counts;
        break;
      default:
        return;
    }
    this.draw(t);
  }

  /** Prints a message above the bar without garbling it. */
  log(text: string): void {
    this.clear();
    this.out.write(`${text}\n`);
    this.lastDraw = 0;
  }

  /** Leaves the last state on its own line (call before printing the summary). */
  finish(): void {
    if (this.out.isTTY && this.drawn) this.out.write("\n");
    this.drawn = false;
  }

  private draw(t: number): void {
    if (this.out.isTTY) {
      const final = this.state.maxSteps > 0 && this.state.step >= this.state.maxSteps;
      if (t - this.lastDraw < 100 && !final) return; // ~10 redraws/s at most, but always the last step
      this.lastDraw = t;
      this.out.write(`\r\x1b[2K${formatProgress(this.state, lineWidth(this.out.columns))}`);
      this.drawn = true;
      return;
    }
    const { step, maxSteps } = this.state;
    const tenth = maxSteps > 0 ? Math.floor((step * 10) / maxSteps) : 0;
    const lastTenth = maxSteps > 0 && this.lastPlainStep >= 0 ? Math.floor((this.lastPlainStep * 10) / maxSteps) : -1;
    const due = this.lastPlainStep < 0 || tenth !== lastTenth || (step !== this.lastPlainStep && t - this.lastPlainAt >= this.plainEveryMs);
    if (!due) return;
    this.lastPlainStep = step;
    this.lastPlainAt = t;
    this.out.write(`${formatProgress(this.state, 200)}\n`);
  }

  private clear(): void {
    if (this.out.isTTY && this.drawn) this.out.write("\r\x1b[2K");
    this.drawn = false;
  }
}
