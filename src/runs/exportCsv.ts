// A run's scalar series as CSV: one row per step that has any value, one column per series (empty where the
// series has no point at that step), plus the training clock. RFC 4180: comma separated, CRLF-free "\n" rows,
// nothing needs quoting because every cell is a number or empty.
import { SCALARS, type RunRecord, type ScalarName } from "./runRecord";

export function runCsv(r: RunRecord): string {
  const rows = new Map<number, { wall: number; cells: Array<number | undefined> }>();
  SCALARS.forEach((name: ScalarName, col) => {
    const s = r.series[name];
    for (let i = 0; i < s.step.length; i++) {
      let row = rows.get(s.step[i]);
      if (!row) {
        row = { wall: s.wall[i], cells: new Array(SCALARS.length) };
        rows.set(s.step[i], row);
      }
      row.cells[col] = s.value[i];
    }
  });
  const steps = [...rows.keys()].sort((a, b) => a - b);
  const out = [["step", "wall_s", ...SCALARS].join(",")];
  for (const step of steps) {
    const row = rows.get(step)!;
    const cells = Array.from({ length: SCALARS.length }, (_, i) => (row.cells[i] === undefined ? "" : String(row.cells[i])));
    out.push(`${step},${Number(row.wall.toFixed(6))},${cells.join(",")}`);
  }
  return `${out.join("\n")}\n`;
}
