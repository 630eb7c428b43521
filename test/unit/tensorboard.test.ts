// The TensorBoard event files HiMA writes, read back with TensorBoard's own Python reader (the record reader
// checks both CRCs of every record; the event accumulator is what `tensorboard --logdir` loads).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { crc32c, maskedCrc32c, TENSORBOARD_TAGS, writeTensorboard } from "../../src/runs/tensorboard";
import { readRunRecord } from "../../src/runs/runRecord";
import { HIMA, writeHandRun } from "../fixtures/compareRuns";
import { REPO_ROOT, tempDir } from "../fixtures/runHelpers";

const PYTHON = [join(REPO_ROOT, ".venv", "bin", "python")].find(existsSync) ?? "python3";

test("CRC-32C matches the standard check value, and TFRecord's mask", () => {
  assert.equal(crc32c(Buffer.from("123456789")), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(0)), 0);
  const c = crc32c(Buffer.from("123456789"));
  assert.equal(maskedCrc32c(Buffer.from("123456789")), ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0);
});

const READER = `
import json, sys
from tensorboard.compat.tensorflow_stub import pywrap_tensorflow, errors
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.compat.proto import event_pb2
path, logdir = sys.argv[1], sys.argv[2]
reader = pywrap_tensorflow.PyRecordReader_New(path)
records = 0
first = None
while True:
    try:
        reader.GetNext()
    except errors.OutOfRangeError:
        break
    ev = event_pb2.Event.FromString(reader.record())
    first = first or ev.file_version
    records += 1
acc = EventAccumulator(logdir, size_guidance={"scalars": 0})
acc.Reload()
out = {"records": records, "file_version": first, "tags": sorted(acc.Tags()["scalars"]), "scalars": {}}
for tag in acc.Tags()["scalars"]:
    out["scalars"][tag] = [[e.step, e.wall_time, e.value] for e in acc.Scalars(tag)]
print(json.dumps(out))
`;

test("TensorBoard reads every series back: tags, steps, values, wall times; a flipped byte fails its CRC", async (t) => {
  const probe = (() => {
    try {
      execFileSync(PYTHON, ["-c", "import tensorboard"], { stdio: "pipe" });
      return null;
    } catch (e) {
      return String((e as { stderr?: Buffer }).stderr ?? e);
    }
  })();
  assert.equal(probe, null, `TensorBoard is not installed in ${PYTHON} (bash scripts/setup.sh with HIMA_TEST_DEPS=1 installs it): ${probe}`);
  const runs = tempDir("hima-tb-");
  const record = await readRunRecord(writeHandRun(runs, HIMA));
  const logdir = join(runs, "tb");
  const file = writeTensorboard(record, logdir);
  const script = join(runs, "read.py");
  writeFileSync(script, READER);
  const read = JSON.parse(execFileSync(PYTHON, [script, file, logdir], { encoding: "utf8" })) as {
    records: number; file_version: string; tags: string[]; scalars: Record<string, Array<[number, number, number]>>;
  };
  assert.equal(read.file_version, "brain.Event:2");
  assert.equal(read.records, 1 + 11); // the version event + one event per step with values (0, 10, ..., 100)
  const written = Object.entries(TENSORBOARD_TAGS).filter(([name]) => record.series[name as keyof typeof TENSORBOARD_TAGS].step.length > 0).map(([, tag]) => tag).sort();
  assert.deepEqual(read.tags, written);
  const loss = read.scalars["loss/train"];
  assert.deepEqual(loss.map(([step]) => step), record.series.loss.step);
  loss.forEach(([, , v], i) => assert.ok(Math.abs(v - record.series.loss.value[i]) < 1e-6));
  const t0 = Date.parse("2026-11-20T10:00:00.000Z") / 1000;
  assert.ok(Math.abs(loss[4][1] - (t0 + 2.5)) < 1e-3, "wall time = start + training clock");
  assert.deepEqual(read.scalars["loss/val"].map(([s, , v]) => [s, Number(v.toFixed(4))]), [[50, 3.1], [100, 2.4]]);
  assert.deepEqual(read.scalars["tiers/cold_tensors"].map(([s, , v]) => [s, v]), [[0, 0], [50, 1]]);

  // Flip one byte inside the last record's data: TensorBoard's record reader refuses it.
  const bytes = readFileSync(file);
  bytes[bytes.length - 8] ^= 0xff;
  writeFileSync(file, bytes);
  const check = `
import sys
from tensorboard.compat.tensorflow_stub import pywrap_tensorflow, errors
r = pywrap_tensorflow.PyRecordReader_New(sys.argv[1])
try:
    while True:
        r.GetNext()
except errors.OutOfRangeError:
    print("read to the end")
except errors.DataLossError as e:
    print("data loss:", e)
`;
  const verdict = execFileSync(PYTHON, ["-c", check, file], { encoding: "utf8" });
  assert.match(verdict, /data loss: .*crc/i);
  t.diagnostic(`read back ${read.records} records, ${read.tags.length} tags with ${PYTHON}`);
});
