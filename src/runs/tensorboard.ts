// TensorBoard event files, written here because no maintained JavaScript writer fits (the npm ones are
// unmaintained or pull in TensorFlow.js). The format is small and stable:
//   a TFRecord file: per record  uint64 length | uint32 masked CRC-32C(length) | data | uint32 masked CRC-32C(data)
//   each record an `Event` protocol buffer (tensorflow/core/util/event.proto): wall_time (1, double),
//   step (2, int64), file_version (3, string) or summary (5, Summary{ repeated Value value = 1 }),
//   Value{ tag = 1 (string), simple_value = 2 (float) }.
// The first event carries file_version "brain.Event:2", as TensorFlow's writer does. Checked by reading the
// files back with TensorBoard's own reader (test/unit/tensorboard.test.ts runs it in Python).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SCALARS, type RunRecord, type ScalarName } from "./runRecord";

// ---- CRC-32C (Castagnoli), table driven ------------------------------------------------------------------
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

export function crc32c(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC: rotate right by 15 and add a constant (so a CRC of CRCs stays useful). */
export function maskedCrc32c(bytes: Uint8Array): number {
  const c = crc32c(bytes);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

// ---- protocol buffer encoding, just what Event needs ------------------------------------------------------
function varint(n: number): number[] {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`varint needs a non-negative safe integer, got ${n}`);
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return out;
}

const tag = (field: number, wire: number) => varint((field << 3) | wire);

function bytesField(field: number, data: Uint8Array): number[] {
  return [...tag(field, 2), ...varint(data.length), ...data];
}

function doubleField(field: number, x: number): number[] {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(x);
  return [...tag(field, 1), ...b];
}

function floatField(field: number, x: number): number[] {
  const b = Buffer.alloc(4);
  b.writeFloatLE(x);
  return [...tag(field, 5), ...b];
}

function eventBytes(wallTime: number, step: number, body: number[]): Uint8Array {
  return Uint8Array.from([...doubleField(1, wallTime), ...tag(2, 0), ...varint(step), ...body]);
}

function scalarEvent(wallTime: number, step: number, values: Array<[string, number]>): Uint8Array {
  const summary: number[] = [];
  for (const [name, value] of values) {
    const v = [...bytesField(1, Buffer.from(name, "utf8")), ...floatField(2, value)];
    summary.push(...bytesField(1, Uint8Array.from(v)));
  }
  return eventBytes(wallTime, step, bytesField(5, Uint8Array.from(summary)));
}

function record(data: Uint8Array): Buffer {
  const header = Buffer.alloc(12);
  header.writeBigUInt64LE(BigInt(data.length), 0);
  header.writeUInt32LE(maskedCrc32c(header.subarray(0, 8)), 8);
  const footer = Buffer.alloc(4);
  footer.writeUInt32LE(maskedCrc32c(data), 0);
  return Buffer.concat([header, data, footer]);
}

/** TensorBoard tag of each series: grouped into sections as TensorBoard shows them. */
export const TENSORBOARD_TAGS: Record<ScalarName, string> = {
  loss: "loss/train", val_loss: "loss/val", lr: "train/lr", tokens_per_s: "train/tokens_per_s", step_time_ms: "train/step_time_ms",
  allocated_bytes: "memory/allocated_bytes", peak_bytes: "memory/peak_bytes", rss_bytes: "memory/rss_bytes",
  state_total_bytes: "optimizer_state/total_bytes", state_hot_bytes: "optimizer_state/hot_bytes", state_warm_bytes: "optimizer_state/warm_bytes",
  state_cold_bytes: "optimizer_state/cold_bytes", evicted_bytes: "optimizer_state/evicted_bytes",
  hot_tensors: "tiers/hot_tensors", warm_tensors: "tiers/warm_tensors", cold_tensors: "tiers/cold_tensors",
  hot_share: "tiers/hot_share", warm_share: "tiers/warm_share", cold_share: "tiers/cold_share",
};

/**
 * The event file's bytes for a run. Wall times are the run's start time plus its training clock, so
 * TensorBoard's "relative" axis is the same clock as the runs view's.
 */
export function tensorboardEvents(r: RunRecord): Buffer {
  const start = r.summary.startedAt ? Date.parse(r.summary.startedAt) / 1000 : 0;
  const t0 = Number.isFinite(start) ? start : 0;
  const byStep = new Map<number, { wall: number; values: Array<[string, number]> }>();
  for (const name of SCALARS) {
    const s = r.series[name];
    for (let i = 0; i < s.step.length; i++) {
      let e = byStep.get(s.step[i]);
      if (!e) byStep.set(s.step[i], (e = { wall: s.wall[i], values: [] }));
      e.values.push([TENSORBOARD_TAGS[name], s.value[i]]);
    }
  }
  const parts = [record(eventBytes(t0, 0, bytesField(3, Buffer.from("brain.Event:2"))))];
  for (const step of [...byStep.keys()].sort((a, b) => a - b)) {
    const e = byStep.get(step)!;
    parts.push(record(scalarEvent(t0 + e.wall, step, e.values)));
  }
  return Buffer.concat(parts);
}

/** Writes `<outDir>/events.out.tfevents.<seconds>.hima.<run id>` and returns its path. */
export function writeTensorboard(r: RunRecord, outDir: string): string {
  mkdirSync(outDir, { recursive: true });
  const start = r.summary.startedAt ? Math.floor(Date.parse(r.summary.startedAt) / 1000) : 0;
  const file = join(outDir, `events.out.tfevents.${Number.isFinite(start) ? start : 0}.hima.${r.summary.id}`);
  writeFileSync(file, tensorboardEvents(r));
  return file;
}
