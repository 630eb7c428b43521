// The shared protocol vectors (protocol/vectors/*.json), judged by the extension: the same cases
// trainer/tests/test_protocol_vectors.py gives the trainer, so both sides of the contract agree.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseWebviewMessage } from "../../common/messages";
import { isRunId } from "../../protocol/contract";
import { runDirFor } from "../../src/run/RunStore";
import { parseTrainerRecord } from "../../src/run/TrainerRecord";
import { validateControl, validateEvent } from "../../src/run/validateEvent";

interface Vectors<T> {
  valid: T[];
  invalid: Array<{ why: string; value: T }>;
}
const VECTORS = [resolve(__dirname, "..", "..", "protocol", "vectors"), resolve(__dirname, "..", "..", "..", "protocol", "vectors")];
function vectors<T>(name: string): Vectors<T> {
  const dir = VECTORS.find((d) => { try { readFileSync(resolve(d, "README.md")); return true; } catch { return false; } });
  if (!dir) throw new Error(`protocol/vectors not found from ${__dirname}`);
  return JSON.parse(readFileSync(resolve(dir, `${name}.json`), "utf8")) as Vectors<T>;
}

test("events: the trainer's valid and invalid cases", () => {
  const v = vectors<unknown>("events");
  for (const e of v.valid) assert.deepEqual(validateEvent(e), e, JSON.stringify(e));
  for (const { why, value } of v.invalid) assert.equal(typeof validateEvent(value), "string", why);
});

test("controls: validated as the trainer parses them", () => {
  const v = vectors<unknown>("controls");
  for (const c of v.valid) assert.deepEqual(validateControl(c), c, JSON.stringify(c));
  for (const { why, value } of v.invalid) assert.equal(typeof validateControl(value), "string", why);
});

test("cutoff pairs: 0 <= hot <= warm <= 1 for a control and for a panel message", () => {
  const v = vectors<[number, number]>("cutoffs");
  const control = ([hot, warm]: [number, number]) => validateControl({ v: 1, type: "set_cutoffs", id: "c", hot, warm });
  const message = ([hot, warm]: [number, number]) => parseWebviewMessage({ kind: "setCutoffs", hot, warm });
  for (const pair of v.valid) {
    assert.equal(typeof control(pair), "object", JSON.stringify(pair));
    assert.equal(typeof message(pair), "object", JSON.stringify(pair));
  }
  for (const { why, value } of v.invalid) {
    assert.equal(typeof control(value), "string", why);
    assert.equal(typeof message(value), "string", why);
  }
  assert.match(String(control([0.7, 0.3])), /hot \(0\.7\) must not exceed warm \(0\.3\)/);
});

test("trainer records: what parseTrainerRecord accepts", () => {
  const v = vectors<unknown>("trainer-records");
  for (const r of v.valid) assert.notEqual(parseTrainerRecord(r), null, JSON.stringify(r));
  for (const { why, value } of v.invalid) assert.equal(parseTrainerRecord(value), null, why);
  assert.equal(parseTrainerRecord({ pid: 4242, writer: "monitor" })?.writer, "monitor");
  assert.equal(parseTrainerRecord({ pid: 4242 })?.writer, "trainer", "records of older trainers name no writer");
});

test("run ids: the pattern, and no path outside the runs folder", () => {
  const v = vectors<unknown>("run-ids");
  for (const id of v.valid) {
    assert.ok(isRunId(id), String(id));
    assert.equal(runDirFor("/runs", id as string), `/runs/${id as string}`);
  }
  for (const { why, value } of v.invalid) {
    assert.ok(!isRunId(value), why);
    assert.throws(() => runDirFor("/runs", value as string), /invalid run id/, why);
  }
});
