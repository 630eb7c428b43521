// Writes runs out in one of the export formats; `hima export` and the Runs view's buttons both call this.
//   csv          one run and `out` not an existing folder: `out` is the file; else `out` is a folder of <id>.csv
//   tensorboard  `out` is a log folder with one subfolder per run (`tensorboard --logdir out`)
//   markdown     `out` is the report file: the comparison of the runs against the baseline
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { ExportFormat } from "../../common/runsMessages";
import { compareRuns, comparisonMarkdown } from "./compare";
import { runCsv } from "./exportCsv";
import type { RunRecord } from "./runRecord";
import { writeTensorboard } from "./tensorboard";

/** Whether `out` names a folder for this export (else a file). */
export function exportsToFolder(format: ExportFormat, runCount: number, out?: string): boolean {
  if (format === "tensorboard") return true;
  if (format === "markdown") return false;
  return runCount > 1 || (out !== undefined && existsSync(out) && statSync(out).isDirectory());
}

/** Writes the export and returns the files written. */
export function exportRuns(runs: RunRecord[], format: ExportFormat, out: string, baseline?: string): string[] {
  if (runs.length === 0) throw new Error("no runs to export");
  const written: string[] = [];
  if (format === "csv") {
    if (!exportsToFolder(format, runs.length, out)) {
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, runCsv(runs[0]));
      written.push(out);
    } else {
      mkdirSync(out, { recursive: true });
      for (const r of runs) {
        const file = join(out, `${r.summary.id}.csv`);
        writeFileSync(file, runCsv(r));
        written.push(file);
      }
    }
  } else if (format === "tensorboard") {
    for (const r of runs) written.push(writeTensorboard(r, join(out, r.summary.id)));
  } else {
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, comparisonMarkdown(runs, compareRuns(runs, baseline)));
    written.push(out);
  }
  return written;
}
