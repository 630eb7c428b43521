// `hima prepare`: token files (train.bin, val.bin, meta.json) from the Brown corpus or a folder of text,
// with a progress line. `--if-missing` makes it a no-op when the folder already holds the same preparation.
import { existsSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { prepareDataset, type DatasetSource, type PrepareProgress } from "../data/prepareDataset";
import { intFlag, parseFlags, UsageError } from "./args";
import { formatCount, formatDuration } from "./format";
import type { CliIO } from "./train";

export const PREPARE_USAGE = "usage: hima prepare --source brown|<folder> --out <dir> [--vocab N] [--if-missing]";

/** The `source` string prepareDataset writes into meta.json for this source. */
function metaSourceOf(source: DatasetSource): string {
  return source.kind === "brown" ? "brown" : `folder:${resolve(source.path)}`;
}

function alreadyPrepared(outDir: string, source: DatasetSource, vocab: number | undefined): boolean {
  try {
    if (!existsSync(join(outDir, "train.bin")) || !existsSync(join(outDir, "val.bin"))) return false;
    const meta = JSON.parse(readFileSync(join(outDir, "meta.json"), "utf8")) as { source?: unknown; vocab_size?: unknown; n_train?: unknown };
    const sizeOk = statSync(join(outDir, "train.bin")).size === Number(meta.n_train) * 2;
    const vocabOk = vocab === undefined ? meta.vocab_size === 50257 : meta.vocab_size === vocab;
    return meta.source === metaSourceOf(source) && vocabOk && sizeOk;
  } catch {
    return false;
  }
}

export async function prepareCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const args = parseFlags(argv, { values: ["source", "out", "vocab"], booleans: ["if-missing"] });
  if (args.positional.length) throw new UsageError(`unexpected argument ${JSON.stringify(args.positional[0])}`);
  const sourceArg = args.values.get("source");
  const out = args.values.get("out");
  if (!sourceArg || !out) throw new UsageError("--source and --out are required");
  let source: DatasetSource;
  if (sourceArg === "brown") source = { kind: "brown" };
  else {
    const path = resolve(io.cwd, sourceArg);
    if (!existsSync(path) || !statSync(path).isDirectory()) throw new UsageError(`--source must be "brown" or a folder of .txt/.rst/.md/.pod files; ${path} is not a folder`);
    source = { kind: "folder", path };
  }
  const vocab = intFlag(args, "vocab", 2);
  const outDir = resolve(io.cwd, out);
  if (args.booleans.has("if-missing") && alreadyPrepared(outDir, source, vocab)) {
    io.stderr.write(`hima: ${outDir} is already prepared from ${sourceArg}${vocab ? ` (vocab ${vocab})` : ""}; skipping\n`);
    return 0;
  }

  let lastLine = "";
  const show = (p: PrepareProgress) => {
    const line = `hima: ${p.phase} ${p.done}/${p.total}`;
    if (io.stderr.isTTY) io.stderr.write(`\r\x1b[2K${line}`);
    else if (p.phase !== lastLine.split(" ")[1] || p.done === p.total) io.stderr.write(`${line}\n`);
    lastLine = line;
  };
  const controller = new AbortController();
  const removeInterrupt = io.onInterrupt(() => controller.abort());
  try {
    const result = await prepareDataset({ source, outDir, vocabSize: vocab }, show, controller.signal);
    if (io.stderr.isTTY) io.stderr.write("\n");
    const unk = result.stats.unkRate ? `, <unk> ${(result.stats.unkRate.train * 100).toFixed(1)}% of train tokens` : "";
    io.stdout(
      `prepared ${result.source} -> ${result.stats.outDir}: ${formatCount(result.n_train)} train / ${formatCount(result.n_val)} val tokens, ` +
        `vocab ${result.vocab_size}${unk}, ${result.stats.trainDocuments + result.stats.valDocuments} documents in ${formatDuration(result.stats.seconds)}\n`,
    );
    return 0;
  } catch (e) {
    if (io.stderr.isTTY) io.stderr.write("\n");
    if ((e as Error).name === "AbortError") {
      io.stderr.write("hima: preparation cancelled\n");
      return 1;
    }
    io.stderr.write(`hima: preparation failed: ${(e as Error).message}\n`);
    return 1;
  } finally {
    removeInterrupt();
  }
}
