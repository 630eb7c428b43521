// What the extension needs from a training run, whoever owns the process: a child whose stdout we read
// (RunManager, the headless CLI) or a detached trainer followed through its run folder (DetachedRun).
import type { Event } from "../../protocol/protocol.generated";
import type { ControlWithoutIdAndVersion, TrainerExit } from "./RunManager";

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
  /** Assigns a unique id, adds `v` and delivers the control; returns the id. Throws once the trainer ended. */
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
