// Splits a child process's stdout into JSON objects, one per line, without ever throwing on what the
// process prints. Lines are cut on the raw bytes (0x0A never occurs inside a UTF-8 multi-byte sequence),
// so a character split across two chunks is decoded whole. A line longer than `maxLineBytes` is dropped
// while it streams in, so a runaway print cannot grow memory without bound.

const NEWLINE = 0x0a;
const DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024;
/** How much of a bad line is quoted back in a noise report. */
const NOISE_PREVIEW_CHARS = 200;

export interface JsonLinesReaderOptions {
  /** Longest accepted line in bytes (without the newline); longer lines are skipped and reported. */
  maxLineBytes?: number;
}

export class JsonLinesReader {
  private readonly maxLineBytes: number;
  /** Bytes of the current, not yet terminated line. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Set while dropping the rest of an over-long line; holds its size so far. */
  private skippingBytes: number | null = null;
  private ended = false;

  constructor(
    private readonly onLine: (value: unknown) => void,
    private readonly onNoise: (text: string, reason: string) => void,
    opts: JsonLinesReaderOptions = {},
  ) {
    const max = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`maxLineBytes must be a positive integer, got ${max}`);
    this.maxLineBytes = max;
  }

  push(chunk: Buffer | string): void {
    if (this.ended) throw new Error("JsonLinesReader: push() after end()");
    const buf = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
    let start = 0;
    while (start < buf.length) {
      const nl = buf.indexOf(NEWLINE, start);
      const stop = nl === -1 ? buf.length : nl;
      this.append(buf.subarray(start, stop));
      if (nl === -1) break;
      this.finishLine();
      start = nl + 1;
    }
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.skippingBytes !== null) {
      this.reportTooLong();
      return;
    }
    if (this.pendingBytes === 0) return;
    const text = this.takePending();
    if (text.trim() === "") return;
    const value = parseObject(text);
    if (typeof value === "string") this.onNoise(preview(text), `torn final line (no newline): ${value}`);
    else this.onLine(value);
  }

  private append(bytes: Buffer): void {
    if (bytes.length === 0) return;
    if (this.skippingBytes !== null) {
      this.skippingBytes += bytes.length;
      return;
    }
    if (this.pendingBytes + bytes.length > this.maxLineBytes) {
      this.skippingBytes = this.pendingBytes + bytes.length;
      this.pending = [];
      this.pendingBytes = 0;
      return;
    }
    // Copy: the caller may reuse its buffer after push() returns.
    this.pending.push(Buffer.from(bytes));
    this.pendingBytes += bytes.length;
  }

  private finishLine(): void {
    if (this.skippingBytes !== null) {
      this.reportTooLong();
      return;
    }
    let text = this.takePending();
    if (text.endsWith("\r")) text = text.slice(0, -1);
    if (text.trim() === "") return;
    const value = parseObject(text);
    if (typeof value === "string") this.onNoise(preview(text), value);
    else this.onLine(value);
  }

  private reportTooLong(): void {
    const size = this.skippingBytes ?? 0;
    this.skippingBytes = null;
    this.onNoise("", `line too long (${size} bytes > ${this.maxLineBytes}), skipped`);
  }

  private takePending(): string {
    const text = this.pending.length === 1 ? this.pending[0].toString("utf8") : Buffer.concat(this.pending, this.pendingBytes).toString("utf8");
    this.pending = [];
    this.pendingBytes = 0;
    // A BOM (some Windows tools print one) is not part of the JSON text.
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  }
}

/** The parsed object, or why the text is not a JSON object. */
function parseObject(text: string): Record<string, unknown> | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return "not JSON";
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "JSON but not an object";
  return value as Record<string, unknown>;
}

function preview(text: string): string {
  return text.length <= NOISE_PREVIEW_CHARS ? text : `${text.slice(0, NOISE_PREVIEW_CHARS)}… (${text.length} chars)`;
}
