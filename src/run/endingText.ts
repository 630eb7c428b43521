// How a run's end is described when the trainer's exit status cannot be seen (it was started by an earlier
// window, so it is not our child): its own `done` event says how it ended, which is what the user wants to read
// after stopping a run they re-attached to — not "exit status not seen".
import type { EventOf } from "../../protocol/protocol.generated";
import { describeExit, type TrainerExit } from "./TrainerHandle";

export function describeEnding(exit: Pick<TrainerExit, "code" | "signal"> & { unobserved?: boolean }, done: EventOf<"done"> | null): string {
  if (!exit.unobserved || !done) return describeExit(exit);
  const how = done.reason === "error" ? "ended with an error" : done.reason;
  return `${how} at step ${done.step}`;
}
