// Stand-alone `prepare` entry used by scripts/prepare-linux-doc.sh when dist/cli.js (the real CLI) has not
// been built: the same prepareDataset, with the same flags as `node dist/cli.js prepare`.
//   --source brown | <folder>   --out <dir>   [--vocab N]   [--val-fraction F]
import { prepareDataset, type DatasetSource } from "../src/data/prepareDataset";

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
  const result = await prepareDataset(
    { source, outDir, vocabSize: vocab === undefined ? undefined : Number(vocab), valFraction: val === undefined ? undefined : Number(val) },
    (p) => process.stderr.write(`\r${p.phase} ${p.done}/${p.total}   `),
    controller.signal,
  );
  process.stderr.write("\n");
  const { token_map, ...meta } = result;
  console.log(JSON.stringify({ ...meta, token_map: token_map && `${token_map.length} entries` }, null, 2));
}

main().catch((e: Error) => {
  process.stderr.write(`\nprepare: ${e.name === "AbortError" ? "cancelled" : e.message}\n`);
  process.exit(1);
});
