// Where each tensor sits on the tier map: rows are groups in tensor order (embeddings, block 0..N-1,
// final norm), columns are kinds in first-seen order. Pure data, no DOM, so it is easy to test.
import type { TensorInfo } from "../protocol/protocol.generated";

export interface TierLayout {
  rows: string[];
  cols: string[];
  /** Per tensor (index-aligned with the tensor list): its row and column. */
  cells: Array<{ row: number; col: number }>;
  /** Tensor index at row * cols.length + col, or -1 for an empty cell. */
  grid: Int32Array;
}

export function layoutTensors(tensors: readonly TensorInfo[]): TierLayout {
  const rowIndex = new Map<string, number>();
  const colIndex = new Map<string, number>();
  const rows: string[] = [];
  const cols: string[] = [];
  const taken = new Set<string>();
  const cells = tensors.map((t) => {
    if (!rowIndex.has(t.group)) {
      rowIndex.set(t.group, rows.length);
      rows.push(t.group);
    }
    // Two tensors with the same group and kind (possible for non-GPT models) must not hide each other:
    // the later one gets its own column "kind #2".
    let kind = t.kind;
    for (let n = 2; taken.has(`${t.group}\u0000${kind}`); n++) kind = `${t.kind} #${n}`;
    taken.add(`${t.group}\u0000${kind}`);
    if (!colIndex.has(kind)) {
      colIndex.set(kind, cols.length);
      cols.push(kind);
    }
    return { row: rowIndex.get(t.group)!, col: colIndex.get(kind)! };
  });
  const grid = new Int32Array(rows.length * cols.length).fill(-1);
  cells.forEach((c, i) => (grid[c.row * cols.length + c.col] = i));
  return { rows, cols, cells, grid };
}

/**
 * Shade weight in [0.35, 1] per tensor: scores normalised within the snapshot on a log scale, so a tensor
 * with a 100x larger score is visibly darker even when scores span many orders of magnitude.
 */
export function scoreShades(scores: readonly number[]): number[] {
  const positive = scores.filter((s) => s > 0 && Number.isFinite(s));
  if (positive.length === 0) return scores.map(() => 0.35);
  const logs = positive.map((s) => Math.log10(s));
  const lo = Math.min(...logs);
  const hi = Math.max(...logs);
  return scores.map((s) => {
    if (!(s > 0) || !Number.isFinite(s)) return 0.35;
    const t = hi > lo ? (Math.log10(s) - lo) / (hi - lo) : 1;
    return 0.35 + 0.65 * t;
  });
}
