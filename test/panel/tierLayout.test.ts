// Tier map placement and shading, without a browser.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { TensorInfo } from "../../protocol/protocol.generated";
import { layoutTensors, scoreShades } from "../../webview/tierLayout";
import { gptTensors } from "./syntheticRun";

const t = (name: string, group: string, kind: string): TensorInfo => ({ name, layer: null, group, kind, shape: [2], numel: 2 });

describe("tier map layout", () => {
  it("puts a GPT's tensors in rows by group (in order) and columns by kind (first seen), one cell each", () => {
    const tensors = gptTensors(3, 8, 16, 4);
    const l = layoutTensors(tensors);
    assert.deepEqual(l.rows, ["embeddings", "block 0", "block 1", "block 2", "final norm"]);
    assert.deepEqual(l.cols.slice(0, 4), ["wte", "wpe", "ln_1", "ln_1.bias"]);
    const cellsUsed = new Set(l.cells.map((c) => c.row * l.cols.length + c.col));
    assert.equal(cellsUsed.size, tensors.length);
    tensors.forEach((tensor, i) => {
      const c = l.cells[i];
      assert.equal(l.rows[c.row], tensor.group);
      assert.equal(l.cols[c.col], tensor.kind);
      assert.equal(l.grid[c.row * l.cols.length + c.col], i);
    });
  });

  it("gives tensors that share group and kind their own columns instead of hiding one", () => {
    const l = layoutTensors([t("a", "mod", "weight"), t("b", "mod", "weight"), t("c", "other", "weight")]);
    assert.deepEqual(l.cols, ["weight", "weight #2"]);
    assert.notDeepEqual(l.cells[0], l.cells[1]);
    assert.deepEqual(l.cells[2], { row: 1, col: 0 });
  });

  it("shades by score on a log scale: higher score, stronger colour; bad scores get the lightest shade", () => {
    const s = scoreShades([1e-8, 1e-4, 1, 0, Number.NaN]);
    assert.equal(s[0], 0.35);
    assert.equal(s[2], 1);
    assert.ok(Math.abs(s[1] - (0.35 + 0.65 * 0.5)) < 1e-9, "the log-midpoint score sits mid-shade");
    assert.equal(s[3], 0.35);
    assert.equal(s[4], 0.35);
    assert.deepEqual(scoreShades([3, 3]), [1, 1]);
  });
});
