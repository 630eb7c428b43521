// What the extension needs from a training run, whoever owns the process: a child whose stdout we read
// (RunManager, the headless CLI) or a detached trainer followed through its run folder (DetachedRun); and
// TrainerProcess, what both handles do the same way: listeners, the exit record, the stop sequence and its
// timings, and the control lines (numbered, versioned, validated against the schema before they are written).
import { randomBytes } from "node:crypto";
import type { Control, Event } from "../../protocol/protocol.generated";
import { PROTOCOL_VERSION } from "../../protocol/protocol.generated";
import { Listeners } from "./Listeners";
import { validateControl } from "./validateEvent";

/** After a `stop` control: how long the trainer gets to finish its step, checkpoint and say `done` before SIGTERM. */
export const STOP_GRACE_MS = 30_000;
/** After SIGTERM, how long before SIGKILL. */
export const TERM_GRACE_MS = 3_000;
/** Lines of the trainer's stderr kept for the end-of-run message, and how long one of them may be. */
export const STDERR_TAIL_LINES = 50;
export const STDERR_LINE_CHARS = 2000;

export interface TrainerLaunch {
  command: string;
  args: string[];
  cwd: string;
  env?: NodeJS.ProcessEnv;
  runId: string;
  runDir: string;
  /**
   * Start the trainer in its own process group, so a Ctrl-C in a terminal reaches only us and we can
   * stop the trainer gracefully (the headless CLI sets this).
   */
  newProcessGroup?: boolean;
}

export interface TrainerExit {
  code: number | null;
  signal: string | null;
  /** Anything but "exit code 0 after a `done` event". */
  crashed: boolean;
  stderrTail: string[];
  sawDone: boolean;
  /**
   * Set when the trainer was not our child (attached after a window reload): its exit status could not
   * be seen, so code and signal are null and `crashed` means "no done event".
   */
  unobserved?: boolean;
}

/** A control as the caller writes it; the handle adds `id` and `v`. */
export type ControlWithoutIdAndVersion = Control extends infer C ? (C extends Control ? Omit<C, "id" | "v"> : never) : never;

export interface TrainerHandle {
  readonly runId: string;
  readonly runDir: string;
  /**
   * True when this handle attached to a trainer that some other process (an earlier window) started; then
   * every event already in the log belongs to the run being followed.
   */
  readonly attached: boolean;
  /**
   * Validated protocol events in log order. `replayed` is true for events that were already in the run's
   * log when this handle was created (an earlier segment of a resumed run, or the history of an attached one).
   */
  onEvent(cb: (e: Event, replayed: boolean) => void): () => void;
  onNoise(cb: (text: string, reason: string) => void): () => void;
  onExit(cb: (exit: TrainerExit) => void): () => void;
  readonly exited: Promise<TrainerExit>;
  /**
   * Assigns a unique id, adds `v`, validates the control against the schema and delivers it; returns the id.
   * Throws once the trainer ended, or for a control the schema refuses.
   */
  sendControl(c: ControlWithoutIdAndVersion): string;
  /** Graceful stop: a `stop` control, then SIGTERM after graceMs, then SIGKILL. Resolves on exit. */
  stop(graceMs?: number): Promise<TrainerExit>;
  kill(): void;
  stderrTail(): string[];
  /**
   * Lets go of the run when its window goes away: a child process dies with it (RunManager kills it), a
   * detached trainer keeps training and can be attached again.
   */
  release(): void;
  /** Called when a control could not be delivered (the channel is gone); the id is the one sendControl returned. */
  onControlFailed(cb: (id: string, reason: string) => void): () => void;
}

/** Formats an exit for people: "exit code 1", "signal SIGKILL". */
export function describeExit(exit: Pick<TrainerExit, "code" | "signal" | "unobserved">): string {
  if (exit.unobserved) return "ended (exit status not seen: the trainer was started by an earlier window)";
  return exit.signal ? `signal ${exit.signal}` : exit.code === null ? "failed to start" : `exit code ${exit.code}`;
}

/** The last line of stderr.log for an exit: "[hima] trainer ended: exit code 1 (no done event)". */
export function exitLogLine(exit: TrainerExit): string {
  return `[hima] trainer ended: ${describeExit(exit)}${exit.sawDone ? "" : " (no done event)"}\n`;
}

/** One stderr line as kept in a tail: cut at STDERR_LINE_CHARS. */
export function clipStderrLine(line: string): string {
  return line.length > STDERR_LINE_CHARS ? `${line.slice(0, STDERR_LINE_CHARS)}…` : line;
}

/** Numbers a handle's controls (a random prefix, so two windows' ids differ) and turns them into checked lines. */
export class ControlLines {
  private counter = 0;
  private readonly prefix = randomBytes(3).toString("hex");

  /** The control's id and its line (without the newline); throws when the schema refuses the control. */
  next(c: ControlWithoutIdAndVersion): { id: string; line: string } {
    const id = `${this.prefix}-${++this.counter}`;
    const control = validateControl({ v: PROTOCOL_VERSION, ...c, id });
    if (typeof control === "string") throw new Error(`not sent to the trainer: ${control}`);
    return { id, line: JSON.stringify(control) };
  }
}

type StopSignal = "SIGTERM" | "SIGKILL";

/**
 * The stop sequence of every handle: a `stop` control, SIGTERM when the trainer has not ended graceMs later
 * (at once when the control could not be delivered), SIGKILL termGraceMs after the SIGTERM. The handle
 * cancels it when the trainer exits.
 */
export class StopSequence {
  private timers: NodeJS.Timeout[] = [];
  private escalated = false;
  private stopping: Promise<TrainerExit> | null = null;

  constructor(
    private readonly handle: Pick<TrainerHandle, "sendControl" | "onControlFailed" | "exited">,
    private readonly signal: (sig: StopSignal) => void,
    private readonly termGraceMs: number = TERM_GRACE_MS,
  ) {}

  /** Starts the sequence (once; a second call returns the same exit). */
  start(graceMs: number): Promise<TrainerExit> {
    if (this.stopping) return this.stopping;
    this.stopping = this.handle.exited;
    const offFailed = this.handle.onControlFailed(() => this.escalate());
    void this.handle.exited.then(offFailed);
    try {
      this.handle.sendControl({ type: "stop" });
    } catch {
      // the control channel is already closed (the trainer is ending): the signals below still follow
    }
    this.timers.push(setTimeout(() => this.escalate(), Math.max(0, graceMs)));
    return this.stopping;
  }

  /** The trainer ended: no signal follows. */
  cancel(): void {
    this.escalated = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
  }

  private escalate(): void {
    if (this.escalated) return;
    this.escalated = true;
    this.signal("SIGTERM");
    this.timers.push(setTimeout(() => this.signal("SIGKILL"), this.termGraceMs));
  }
}

/**
 * The half of a trainer handle that does not depend on how the trainer runs. A subclass says how a control
 * line reaches the trainer (`writeControl`), whether it can now (`canSend`), how a signal reaches it
 * (`signal`), and sets `exit` (then emits it) when the trainer ended.
 */
export abstract class TrainerProcess implements TrainerHandle {
  abstract readonly runId: string;
  abstract readonly runDir: string;
  abstract readonly attached: boolean;
  abstract readonly exited: Promise<TrainerExit>;
  protected readonly eventListeners = new Listeners<[Event, boolean]>();
  protected readonly noiseListeners = new Listeners<[string, string]>();
  protected readonly exitListeners = new Listeners<[TrainerExit]>();
  protected readonly controlFailedListeners = new Listeners<[string, string]>();
  protected exit: TrainerExit | null = null;
  protected readonly stopSequence: StopSequence;
  private readonly controls = new ControlLines();

  constructor(termGraceMs?: number) {
    this.stopSequence = new StopSequence(this, (sig) => this.signal(sig), termGraceMs);
  }

  onEvent(cb: (e: Event, replayed: boolean) => void): () => void {
    return this.eventListeners.add(cb);
  }

  onNoise(cb: (text: string, reason: string) => void): () => void {
    return this.noiseListeners.add(cb);
  }

  onExit(cb: (exit: TrainerExit) => void): () => void {
    return this.exitListeners.add(cb);
  }

  onControlFailed(cb: (id: string, reason: string) => void): () => void {
    return this.controlFailedListeners.add(cb);
  }

  get running(): boolean {
    return this.exit === null;
  }

  sendControl(c: ControlWithoutIdAndVersion): string {
    if (this.exit !== null || !this.canSend()) throw new Error("the trainer is not running");
    const { id, line } = this.controls.next(c);
    this.writeControl(id, line);
    return id;
  }

  /** Graceful stop (the StopSequence). Resolves on exit. */
  stop(graceMs: number = STOP_GRACE_MS): Promise<TrainerExit> {
    return this.exit !== null ? this.exited : this.stopSequence.start(graceMs);
  }

  kill(): void {
    this.signal("SIGKILL");
  }

  abstract stderrTail(): string[];
  abstract release(): void;
  protected abstract canSend(): boolean;
  /** Delivers a checked control line (no newline); a failure later is reported through controlFailedListeners. */
  protected abstract writeControl(id: string, line: string): void;
  protected abstract signal(sig: StopSignal): void;
}
