// Alerts a user should not have to watch the charts for: the loss became NaN or infinite, the loss is far above
// its smoothed value (diverging), or the run went quiet (no event for many times its usual interval). One
// detector, fed the protocol events, used by the extension (a notification with "Show") and the CLI (a line
// above the progress bar). Pure: no `vscode`, time passed in, so the rules are unit-tested on crafted series.
// Each kind is raised once, and again only after the run recovered from it (no spam).
import type { Event } from "../../protocol/protocol.generated";
import { DebiasedEma } from "../../common/smoothing";

export type AlertKind = "non_finite_loss" | "divergence" | "stall";

export interface RunAlert {
  kind: AlertKind;
  /** The step it was seen at (the last step event's, for a stall); null before any step. */
  step: number | null;
  /** One sentence, without the run id (each caller says which run). */
  message: string;
}

export interface AlertRules {
  /** The smoothing of the loss baseline (the panel's default EMA strength). */
  smoothing: number;
  /** Step events before divergence is judged: the first losses fall fast and the EMA lags them. */
  warmupSteps: number;
  /** Diverging: loss > smoothed + max(relativeMargin * |smoothed|, absoluteMargin)... */
  relativeMargin: number;
  absoluteMargin: number;
  /** ...for this many step events in a row (one spike is noise); as many in a row below it is a recovery. */
  sustainSteps: number;
  /** Stalled: no event for stallFactor times the median gap between step events, and at least minStallMs. */
  stallFactor: number;
  minStallMs: number;
}

export const DEFAULT_ALERT_RULES: AlertRules = {
  smoothing: 0.9,
  warmupSteps: 10,
  relativeMargin: 0.5,
  absoluteMargin: 0.05,
  sustainSteps: 3,
  stallFactor: 20,
  // An evaluation or a checkpoint is a long pause on any run; a minute of silence is not one of those.
  minStallMs: 60_000,
};

/** Step gaps kept for the median (the usual interval follows the run's latest pace). */
const GAPS_KEPT = 32;
const MIN_GAPS = 3;

export class RunAlertDetector {
  private readonly active = new Set<AlertKind>();
  private ema!: DebiasedEma;
  private smoothed: number | null = null;
  private finiteSteps = 0;
  private above = 0;
  private below = 0;
  private lastStep: number | null = null;
  private lastEventAt: number | null = null;
  private lastStepAt: number | null = null;
  private gaps: number[] = [];
  private paused = false;
  private ended = false;

  constructor(private readonly rules: AlertRules = DEFAULT_ALERT_RULES) {
    this.reset();
  }

  /** The kinds raised and not yet recovered from. */
  get raised(): ReadonlySet<AlertKind> {
    return this.active;
  }

  /**
   * Folds in one event seen at `nowMs`; returns the alerts it raises. A replayed event (the log's history,
   * read when a window attaches) builds the loss baseline but raises nothing and says nothing about timing.
   */
  onEvent(e: Event, nowMs: number, replayed = false): RunAlert[] {
    const raised: RunAlert[] = [];
    if (!replayed) {
      this.lastEventAt = nowMs;
      this.active.delete("stall");
    }
    switch (e.type) {
      case "hello":
        if (!replayed) this.reset(); // a new trainer process (a resume starts again from its checkpoint)
        break;
      case "step":
        if (!replayed) this.noteStepTime(nowMs);
        this.lastStep = e.step;
        this.active.delete("non_finite_loss"); // the loop went on with a finite loss (a user's loop may)
        this.onLoss(e.loss, e.step, replayed ? null : raised);
        break;
      case "error":
        if (e.cause === "non_finite_loss" && !replayed) this.raise(raised, "non_finite_loss", this.lastStep, e.message);
        break;
      case "status":
        this.paused = e.state === "paused";
        break;
      case "done":
        this.ended = true;
        break;
      default:
        break;
    }
    return raised;
  }

  /** The stall check, called on a timer; returns a stall alert once when the run went quiet. */
  check(nowMs: number): RunAlert[] {
    if (this.ended || this.paused || this.lastEventAt === null || this.gaps.length < MIN_GAPS) return [];
    const usual = median(this.gaps);
    const limit = Math.max(this.rules.stallFactor * usual, this.rules.minStallMs);
    const quiet = nowMs - this.lastEventAt;
    if (quiet <= limit) return [];
    const raised: RunAlert[] = [];
    this.raise(raised, "stall", this.lastStep, `no event for ${seconds(quiet)} (usually a step every ${seconds(usual)}); the trainer may be stuck`);
    return raised;
  }

  /** The trainer exited: nothing more to wait for. */
  end(): void {
    this.ended = true;
  }

  private reset(): void {
    this.active.clear();
    this.ema = new DebiasedEma(this.rules.smoothing);
    this.smoothed = null;
    this.finiteSteps = 0;
    this.above = 0;
    this.below = 0;
    this.lastStepAt = null;
    this.gaps = [];
    this.paused = false;
    this.ended = false;
  }

  private noteStepTime(nowMs: number): void {
    if (this.lastStepAt !== null && nowMs >= this.lastStepAt) {
      this.gaps.push(nowMs - this.lastStepAt);
      if (this.gaps.length > GAPS_KEPT) this.gaps.shift();
    }
    this.lastStepAt = nowMs;
  }

  private onLoss(loss: number, step: number, raised: RunAlert[] | null): void {
    if (!Number.isFinite(loss)) return; // the protocol carries none; a NaN arrives as an error event
    const r = this.rules;
    const base = this.smoothed;
    const far = base !== null && this.finiteSteps >= r.warmupSteps && loss > base + Math.max(r.relativeMargin * Math.abs(base), r.absoluteMargin);
    if (far) {
      this.above++;
      this.below = 0;
      // The outliers are not folded into the baseline: a loss that stays up must not become the new normal.
      if (this.above >= r.sustainSteps && raised) {
        this.raise(raised, "divergence", step, `loss ${loss.toPrecision(4)} at step ${step} is far above its smoothed value ${base!.toPrecision(4)}: the run may be diverging (lower the learning rate?)`);
      }
      return;
    }
    this.above = 0;
    this.below++;
    if (this.below >= r.sustainSteps) this.active.delete("divergence");
    this.finiteSteps++;
    this.smoothed = this.ema.push(loss);
  }

  private raise(into: RunAlert[], kind: AlertKind, step: number | null, message: string): void {
    if (this.active.has(kind)) return;
    this.active.add(kind);
    into.push({ kind, step, message });
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function seconds(ms: number): string {
  const s = ms / 1000;
  return s >= 100 ? `${Math.round(s)} s` : `${s.toPrecision(2)} s`;
}

/** What watchRunAlerts listens to: a TrainerHandle's events and exit. */
export interface AlertSource {
  onEvent(cb: (e: Event, replayed: boolean) => void): () => void;
  onExit(cb: () => void): () => void;
}

export interface AlertWatchOptions {
  rules?: AlertRules;
  /** How often the stall check runs (ms). */
  checkEveryMs?: number;
  now?: () => number;
}

/** Feeds a trainer's events to a detector and `notify`s each alert; returns the function that stops watching. */
export function watchRunAlerts(source: AlertSource, notify: (alert: RunAlert) => void, opts: AlertWatchOptions = {}): () => void {
  const now = opts.now ?? Date.now;
  const detector = new RunAlertDetector(opts.rules);
  const report = (alerts: RunAlert[]) => alerts.forEach(notify);
  const timer = setInterval(() => report(detector.check(now())), opts.checkEveryMs ?? 5_000);
  timer.unref?.(); // never what keeps a CLI or a test alive
  const offs: Array<() => void> = [];
  const stop = () => {
    clearInterval(timer);
    offs.forEach((off) => off());
  };
  offs.push(
    source.onEvent((e, replayed) => report(detector.onEvent(e, now(), replayed))),
    source.onExit(() => {
      detector.end();
      stop();
    }),
  );
  return stop;
}
