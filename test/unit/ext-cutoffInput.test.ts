// HiMA: Set Cutoffs input boxes: what the user may type and what they are told when it is wrong.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { formatCutoff, parseCutoff, validateHot, validateWarm } from "../../src/commands/cutoffInput";

test("fractions and percentages are accepted", () => {
  assert.equal(parseCutoff("0.3"), 0.3);
  assert.equal(parseCutoff(" .25 "), 0.25);
  assert.equal(parseCutoff("1"), 1);
  assert.equal(parseCutoff("0"), 0);
  assert.equal(parseCutoff("30%"), 0.3);
  assert.equal(parseCutoff("100 %"), 1);
  assert.equal(validateHot("0.5"), undefined);
});

test("out of range, empty and non-numbers are refused with a reason", () => {
  for (const bad of ["", "  ", "-0.1", "1.5", "abc", "0.3x", "NaN", "Infinity", "1e3", "120%", "0x1", "--1"]) {
    const r = parseCutoff(bad);
    assert.equal(typeof r, "string", `"${bad}" must be refused`);
    assert.ok((r as string).length > 10, "the reason says something");
  }
  assert.match(validateHot("2") ?? "", /between 0 and 1/);
});

test("warm below hot is refused, equal is fine", () => {
  assert.match(validateWarm("0.2", 0.3) ?? "", /at least Hot/);
  assert.equal(validateWarm("0.3", 0.3), undefined);
  assert.equal(validateWarm("60%", 0.3), undefined);
});

test("any accepted value is a fraction in [0, 1]; the formatted value parses back", () => {
  fc.assert(
    fc.property(fc.string(), (s) => {
      const r = parseCutoff(s);
      if (typeof r === "number") assert.ok(r >= 0 && r <= 1 && Number.isFinite(r));
    }),
  );
  fc.assert(
    fc.property(fc.double({ min: 0, max: 1, noNaN: true }), (v) => {
      const back = parseCutoff(formatCutoff(v));
      assert.equal(typeof back, "number");
      assert.ok(Math.abs((back as number) - v) <= 5e-5);
    }),
  );
});
