// Keeps every open panel (sidebar view, editor tab) in step with the current RunModel, without `vscode`
// (unit-tested). A panel that is up to date gets coalesced updates, at most one per interval (this file holds
// the throttle policy; PanelHost and the panel benchmark both use it); one that missed
// anything (not ready yet, hidden, a post that was not delivered) gets a full snapshot as soon as it can take
// one, because a hidden webview silently drops messages.
import type { HostToWebview, PanelSnapshot, PanelUpdate } from "../../common/messages";

/** The two RunModel methods the broadcaster needs. */
export interface PanelModel {
  snapshot(): PanelSnapshot;
  takeUpdate(): PanelUpdate | null;
}

/** One webview showing the panel. `post` resolves false when the message was not delivered. */
export interface PanelSink {
  post(message: HostToWebview): PromiseLike<boolean>;
  visible(): boolean;
}

interface SinkState {
  /** The page said `ready`: its message listener is installed. */
  ready: boolean;
  /** It missed messages: it needs a snapshot before the next update. */
  stale: boolean;
}

/**
 * Least time between two updates to a panel. A change after a quiet spell is sent at once (leading edge, after
 * the current batch of stdout lines); changes within the interval are coalesced into one update at its end
 * (trailing edge), so a burst costs one message. 25 ms (<= 40 updates/s, below the panel's 60 frames/s) keeps
 * event-to-paint p95 under 100 ms on a loaded 2-core machine; each update costs the host well under 1 ms to
 * build (the charts are downsampled incrementally) plus serialising ~100 KiB (bench: `npm run bench:panel`).
 */
export const UPDATE_INTERVAL_MS = 25;

export class PanelBroadcaster {
  private readonly sinks = new Map<PanelSink, SinkState>();
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private lastFlush = 0;

  constructor(
    private model: PanelModel,
    private readonly onPostError: (err: unknown) => void = () => {},
    private readonly intervalMs = UPDATE_INTERVAL_MS,
  ) {}

  get current(): PanelModel {
    return this.model;
  }

  add(sink: PanelSink): void {
    this.sinks.set(sink, { ready: false, stale: true });
  }

  remove(sink: PanelSink): void {
    this.sinks.delete(sink);
  }

  /** The page (re)loaded and listens: it starts from nothing, so it gets a snapshot. */
  ready(sink: PanelSink): void {
    const s = this.sinks.get(sink);
    if (!s) return;
    s.ready = true;
    s.stale = true;
    this.flush();
  }

  /** Call when a panel was shown or hidden; a shown one gets a snapshot. */
  visibilityChanged(sink: PanelSink): void {
    const s = this.sinks.get(sink);
    if (!s) return;
    s.stale = true;
    if (sink.visible()) this.flush();
  }

  /** Shows another model (a replay, a new live run): every panel gets its snapshot. */
  setModel(model: PanelModel): void {
    this.model = model;
    for (const s of this.sinks.values()) s.stale = true;
    this.flush();
  }

  /**
   * The model changed: the panels hear of it at once when the last update is older than the interval (a zero
   * timeout, so the rest of a chunk of events joins it), else at the interval's end, coalesced with other changes.
   */
  scheduleUpdate(): void {
    if (this.timer) return;
    const wait = Math.max(0, this.lastFlush + this.intervalMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, wait);
  }

  notice(level: "info" | "error", text: string): void {
    for (const [sink, s] of this.sinks) if (s.ready && sink.visible()) this.post(sink, s, { kind: "notice", level, text });
  }

  /**
   * Sends what changed now: an update to the panels that are up to date, a snapshot to the stale ones that
   * can take it. The update is taken before the snapshot, because snapshot() restarts change tracking.
   */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.lastFlush = Date.now();
    const update = this.model.takeUpdate();
    let updateSeq: number | undefined;
    let snapshot: PanelSnapshot | undefined;
    for (const [sink, s] of this.sinks) {
      if (!s.ready || !sink.visible()) {
        s.stale = true;
      } else if (s.stale) {
        const full = (snapshot ??= this.model.snapshot());
        s.stale = false;
        this.post(sink, s, { kind: "snapshot", snapshot: full, seq: ++this.seq });
      } else if (update) {
        updateSeq ??= ++this.seq;
        this.post(sink, s, { kind: "update", update, seq: updateSeq });
      }
    }
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.sinks.clear();
  }

  private post(sink: PanelSink, s: SinkState, message: HostToWebview): void {
    sink.post(message).then(
      (delivered) => {
        if (delivered) return;
        // Lost (hidden meanwhile, reloading): the next flush sends it a snapshot instead of a gap.
        s.stale = true;
        this.scheduleUpdate();
      },
      (err) => {
        s.stale = true;
        this.onPostError(err);
      },
    );
  }
}
