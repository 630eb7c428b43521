// Follows a run's events.jsonl while the trainer appends to it (like `tail -f`): reads what is there, then
// every appended byte, woken by fs.watch and by a polling timer (fs.watch misses changes on some file
// systems: network mounts, some containers). Bytes go through JsonLinesReader, so a last line the trainer
// is still writing is held until its newline arrives, and only a line still torn when following ends
// (`close({ final: true })`) is reported, never parsed as data. Memory stays bounded by the read chunk
// plus the reader's line cap, however long the log is.
import { promises as fs, watch, type FSWatcher } from "node:fs";
import type { Event } from "../../protocol/protocol.generated";
import { JsonLinesReader } from "./JsonLinesReader";
import { validateEvent } from "./validateEvent";
import { openForRead } from "./runFolderCheck";

export interface EventLogFollowerOptions {
  /** Polling interval when fs.watch says nothing (ms). */
  pollMs?: number;
  /** Bytes read per read() call. */
  chunkBytes?: number;
  /** Longest accepted line (JsonLinesReader's cap). */
  maxLineBytes?: number;
  /** Events whose line ends at or before this byte offset are delivered with replayed = true. */
  replayUntil?: number;
}

const DEFAULT_POLL_MS = 250;
const DEFAULT_CHUNK_BYTES = 1024 * 1024;

export class EventLogFollower {
  private readonly reader: JsonLinesReader;
  private readonly pollMs: number;
  private readonly chunk: Buffer;
  private readonly replayUntil: number;
  private replaying: boolean;
  private position = 0;
  private handle: fs.FileHandle | null = null;
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private reading: Promise<void> | null = null;
  private readAgain = false;
  private closed = false;

  constructor(
    readonly file: string,
    onEvent: (e: Event, replayed: boolean) => void,
    private readonly onNoise: (text: string, reason: string) => void,
    opts: EventLogFollowerOptions = {},
  ) {
    this.pollMs = opts.pollMs ?? DEFAULT_POLL_MS;
    this.chunk = Buffer.alloc(opts.chunkBytes ?? DEFAULT_CHUNK_BYTES);
    this.replayUntil = opts.replayUntil ?? 0;
    this.replaying = this.replayUntil > 0;
    this.reader = new JsonLinesReader(
      (value) => {
        const e = validateEvent(value);
        if (typeof e === "string") onNoise(JSON.stringify(value).slice(0, 200), e);
        else onEvent(e, this.replaying);
      },
      onNoise,
      { maxLineBytes: opts.maxLineBytes },
    );
  }

  /** Bytes of the log consumed so far. */
  get offset(): number {
    return this.position;
  }

  /** Starts following: reads what is in the log now, then what is appended. */
  start(): void {
    if (this.closed || this.timer) return;
    this.timer = setInterval(() => this.wake(), this.pollMs);
    this.wake();
  }

  /** Reads until the end of what the log holds now; resolves when it is consumed. */
  async drain(): Promise<void> {
    do {
      this.readAgain = false;
      this.reading ??= this.readToEnd().finally(() => (this.reading = null));
      await this.reading;
    } while (this.readAgain && !this.closed);
  }

  /**
   * Stops following. With `final` (the trainer has exited), reads the rest first and reports a last line
   * without a newline as torn.
   */
  async close(opts: { final?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.watcher?.close();
    this.watcher = null;
    if (opts.final) await this.drain();
    else await this.reading;
    this.closed = true;
    if (opts.final) this.reader.end();
    await this.handle?.close().catch(() => {});
    this.handle = null;
  }

  private wake(): void {
    if (this.closed) return;
    if (this.reading) {
      this.readAgain = true;
      return;
    }
    void this.drain().catch((err) => this.onNoise("", `reading ${this.file} failed: ${String(err)}`));
  }

  private async readToEnd(): Promise<void> {
    if (!(await this.open())) return;
    const handle = this.handle!;
    const size = (await handle.stat()).size;
    if (size < this.position) {
      // Someone truncated or replaced the log: what we delivered stays, we go on from its new end.
      this.onNoise("", `${this.file} shrank from ${this.position} to ${size} bytes; following from its end`);
      this.position = size;
    }
    for (;;) {
      if (this.closed) return;
      const { bytesRead } = await handle.read(this.chunk, 0, this.chunk.length, this.position);
      if (bytesRead === 0) return;
      const bytes = this.chunk.subarray(0, bytesRead);
      const start = this.position;
      this.position += bytesRead;
      if (this.replaying && this.position > this.replayUntil) {
        // Lines that end before the boundary were in the log when we came; the rest is new.
        const cut = Math.max(0, this.replayUntil - start);
        this.reader.push(bytes.subarray(0, cut));
        this.replaying = false;
        this.reader.push(bytes.subarray(cut));
      } else {
        this.reader.push(bytes);
      }
    }
  }

  /** Opens the log once it exists (the trainer creates it after it starts). */
  private async open(): Promise<boolean> {
    if (this.handle) return true;
    try {
      this.handle = await openForRead(this.file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw e;
    }
    if (this.timer && !this.watcher) {
      try {
        this.watcher = watch(this.file, { persistent: false }, () => this.wake());
        this.watcher.on("error", () => {}); // polling carries on
      } catch {
        // fs.watch is unavailable here: polling alone
      }
    }
    return true;
  }
}
