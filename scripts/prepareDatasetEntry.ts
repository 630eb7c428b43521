// Stand-alone `prepare` entry bundled by scripts/prepare-gpu-corpus.sh from the current source, so that a
// stale or missing dist/cli.js (the real CLI) does not matter: the same prepareDataset, with the same flags
// as `node dist/cli.js prepare`.
//   --source brown | <folder>   --out <dir>   [--vocab N]   [--val-fraction F]
import { prepareDataset, type DatasetSource, type PrepareProgress } from "../src/data/prepareDataset";

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const sourceArg = flag("--source");
  const outDir = flag("--out");
  if (!sourceArg || !outDir) throw new Error("usage: prepare --source brown|<folder> --out <dir> [--vocab N] [--val-fraction F]");
  const source: DatasetSource = sourceArg === "brown" ? { kind: "brown" } : { kind: "folder", path: sourceArg };
  const vocab = flag("--vocab");
  const val = flag("--val-fraction");
  const controller = new AbortController();
  process.once("SIGINT", () => controller.abort()); // Ctrl-C cancels cleanly: no half-written dataset
  // One rewritten line on a terminal; in a log (not a TTY) only each phase's start and end, like the CLI.
  let lastPhase = "";
  const show = (p: PrepareProgress) => {
    const line = `${p.phase} ${p.done}/${p.total}`;
    if (process.stderr.isTTY) process.stderr.write(`\r${line}   `);
    else if (p.phase !== lastPhase || p.done === p.total) process.stderr.write(`prepare: ${line}\n`);
    lastPhase = p.phase;
  };
  const result = await prepareDataset(
    { source, outDir, vocabSize: vocab === undefined ? undefined : Number(vocab), valFraction: val === undefined ? undefined : Number(val) },
    show,
    controller.signal,
  );
  if (process.stderr.isTTY) process.stderr.write("\n");
  const { token_map, ...meta } = result;
  console.log(JSON.stringify({ ...meta, token_map: token_map && `${token_map.length} entries` }, null, 2));
}

main().catch((e: Error) => {
  process.stderr.write(`\nprepare: ${e.name === "AbortError" ? "cancelled" : e.message}\n`);
  process.exit(1);
});
