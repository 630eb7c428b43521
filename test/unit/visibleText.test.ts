// visibleText: bidi controls and invisible characters in trainer-provided names become visible escapes;
// every other character (any script, emoji) is left as it is.
import { test } from "node:test";
import assert from "node:assert/strict";
import { visibleText } from "../../common/visibleText";

test("bidi overrides, isolates, marks, zero-width and control characters are escaped", () => {
  assert.equal(visibleText("a\u202Eexe.txt"), "a\\u{202E}exe.txt");
  assert.equal(visibleText("\u2066x\u2069\u200F\u200B\uFEFF\u0007"), "\\u{2066}x\\u{2069}\\u{200F}\\u{200B}\\u{FEFF}\\u{0007}");
});

test("ordinary names, other scripts and emoji are unchanged", () => {
  for (const name of ["transformer.h.0.attn.c_attn.weight", "ليبل.weight", "слой.bias", "層.🙂"]) assert.equal(visibleText(name), name);
});
