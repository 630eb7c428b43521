// The Runs view's messages are checked at the host boundary (common/runsMessages.ts) like the panel's: anything
// the page sends is either a well-formed message or a reason string, never an exception; run ids can never be
// paths; a PNG must be a PNG data URL. Also the panel's two new messages (setSmoothing, savePng).
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { parseWebviewMessage } from "../../common/messages";
import { parseRunsMessage } from "../../common/runsMessages";

test("parseRunsMessage never throws and returns a message or a reason", () => {
  fc.assert(
    fc.property(fc.anything({ withNullPrototype: true, withBigInt: true, withMap: true, withSet: true }), (raw) => {
      const r = parseRunsMessage(raw);
      assert.ok(typeof r === "string" || typeof r === "object");
    }),
    { numRuns: 2000 },
  );
  const kinds = fc.constantFrom("ready", "refresh", "compare", "timeline", "setMeta", "rename", "delete", "openRun", "export", "savePng", "painted", "__proto__");
  const value = fc.oneof(fc.string({ maxLength: 200 }), fc.double(), fc.constant(null), fc.array(fc.string({ maxLength: 20 }), { maxLength: 5 }), fc.constantFrom("../x", "a/b", "ok-run", "csv", "data:image/png;base64,AAAA"));
  fc.assert(
    fc.property(fc.record({ kind: kinds, id: value, ids: value, baseline: value, smoothing: value, tags: value, note: value, format: value, name: value, dataUrl: value, seq: value }, { requiredKeys: ["kind"] }), (raw) => {
      const r = parseRunsMessage(raw);
      if (typeof r === "string") return;
      // Whatever got through names runs by plain ids only.
      const ids = [("id" in r ? r.id : undefined), ...("ids" in r ? r.ids : [])].filter((x): x is string => typeof x === "string");
      for (const id of ids) assert.match(id, /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/);
    }),
    { numRuns: 3000 },
  );
});

test("run ids that are paths, baselines outside the pick, bad smoothing and non-PNG data are refused", () => {
  assert.match(String(parseRunsMessage({ kind: "delete", id: "../../etc" })), /id must be a run id/);
  assert.match(String(parseRunsMessage({ kind: "compare", ids: ["a", "b"], baseline: "c", smoothing: 0.9 })), /baseline must be one of the ids/);
  assert.match(String(parseRunsMessage({ kind: "compare", ids: ["a", "b"], baseline: "a", smoothing: 1 })), /smoothing/);
  assert.match(String(parseRunsMessage({ kind: "savePng", name: "x.png", dataUrl: "data:text/html,<script>" })), /PNG data URL/);
  assert.match(String(parseRunsMessage({ kind: "savePng", name: "../x.png", dataUrl: "data:image/png;base64,AA" })), /plain file name/);
  assert.match(String(parseRunsMessage({ kind: "export", format: "xml", ids: ["a"], baseline: null })), /format must be one of csv, tensorboard, markdown/);
  assert.deepEqual(parseRunsMessage({ kind: "compare", ids: ["a", "b"], baseline: "b", smoothing: 0.5 }), { kind: "compare", ids: ["a", "b"], baseline: "b", smoothing: 0.5 });
  assert.deepEqual(parseWebviewMessage({ kind: "setSmoothing", smoothing: 0.6 }), { kind: "setSmoothing", smoothing: 0.6 });
  assert.match(String(parseWebviewMessage({ kind: "setSmoothing", smoothing: -1 })), /smoothing/);
  assert.match(String(parseWebviewMessage({ kind: "savePng", name: "a.png", dataUrl: "javascript:1" })), /PNG data URL/);
});
