// Folding a live run's events into its RunModel, history included. A resumed run's log holds earlier
// segments, each ending with `done`; replayed, such a `done` must not make the live run look finished
// (the panel would turn its controls off), so the model waits for the next segment's hello instead.
import type { Event } from "../../protocol/protocol.generated";
import type { RunModel } from "./RunModel";

export function applyLiveEvent(model: RunModel, event: Event, replayed: boolean): void {
  model.apply(event);
  if (event.type === "done" && replayed) model.setStatus("starting");
}
