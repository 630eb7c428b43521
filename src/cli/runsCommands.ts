// `hima compare` (the summary table of runs against a baseline) and `hima export` (CSV, TensorBoard event
// files, a Markdown report) for recorded run folders: the same code the runs view uses (src/runs/).
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import type { ExportFormat } from "../../common/runsMessages";
import { dirname, join, resolve } from "node:path";
import { RUN_FOLDER } from "../../protocol/protocol.generated";
import { compareRuns, comparisonMarkdown, formatComparison } from "../runs/compare";
import { exportRuns } from "../runs/exportRuns";
import { readRunRecord, type RunRecord } from "../runs/runRecord";
import { parseFlags, UsageError } from "./args";
import type { CliIO } from "./train";

export const COMPARE_USAGE = `usage: hima compare RUN_DIR RUN_DIR... [--baseline RUN_DIR] [--markdown PATH]
                  prints speedup, time to the baseline's final val loss, memory saved and val gap per run
                  (baseline: the first run unless given)`;
export const EXPORT_USAGE = `usage: hima export RUN_DIR [RUN_DIR...] --format csv|tensorboard|markdown --out PATH [--baseline RUN_DIR]
                  csv: one run -> PATH is the file; several -> PATH is a folder with <run id>.csv each
                  tensorboard: PATH is a folder with one subfolder per run (tensorboard --logdir PATH)
                  markdown: a comparison report of the runs (baseline: the first unless given)`;

const FORMATS = ["csv", "tensorboard", "markdown"] as const;

async function loadRuns(io: CliIO, dirs: string[]): Promise<RunRecord[]> {
  const runs: RunRecord[] = [];
  for (const d of dirs) {
    const dir = resolve(io.cwd, d);
    if (!existsSync(join(dir, RUN_FOLDER.events))) throw new UsageError(`${dir} is not a run folder (no ${RUN_FOLDER.events})`);
    runs.push(await readRunRecord(dir));
  }
  const ids = runs.map((r) => r.summary.id);
  const dup = ids.find((id, i) => ids.indexOf(id) !== i);
  if (dup) throw new UsageError(`run ${dup} is given twice`);
  return runs;
}

/** The baseline's run id, adding its folder to the list when it is not in it already. */
function baselineOf(io: CliIO, dirs: string[], baseline: string | undefined): string | undefined {
  if (baseline === undefined) return undefined;
  const abs = resolve(io.cwd, baseline);
  if (!dirs.some((d) => resolve(io.cwd, d) === abs)) dirs.unshift(baseline);
  return abs.replace(/[\\/]+$/, "").split(/[\\/]/).pop();
}

export async function compareCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const args = parseFlags(argv, { values: ["baseline", "markdown"] });
  const dirs = args.positional.slice();
  const baseline = baselineOf(io, dirs, args.values.get("baseline"));
  if (dirs.length < 2) throw new UsageError("compare needs at least two run folders");
  const runs = await loadRuns(io, dirs);
  const comparison = compareRuns(runs, baseline);
  io.stdout(`${formatComparison(comparison)}\n`);
  const md = args.values.get("markdown");
  if (md) {
    const path = resolve(io.cwd, md);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, comparisonMarkdown(runs, comparison));
    io.stdout(`report: ${path}\n`);
  }
  return 0;
}

export async function exportCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const args = parseFlags(argv, { values: ["format", "out", "baseline"] });
  const format = args.values.get("format");
  const out = args.values.get("out");
  if (!format || !(FORMATS as readonly string[]).includes(format)) throw new UsageError(`--format must be one of ${FORMATS.join(", ")}`);
  if (!out) throw new UsageError("--out is required");
  const dirs = args.positional.slice();
  const baseline = format === "markdown" ? baselineOf(io, dirs, args.values.get("baseline")) : undefined;
  if (args.values.has("baseline") && format !== "markdown") throw new UsageError("--baseline only applies to --format markdown");
  if (dirs.length === 0) throw new UsageError("export needs a run folder");
  const runs = await loadRuns(io, dirs);
  const written = exportRuns(runs, format as ExportFormat, resolve(io.cwd, out), baseline);
  for (const f of written) io.stdout(`wrote ${f}\n`);
  return 0;
}
