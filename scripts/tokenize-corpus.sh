#!/usr/bin/env bash
# Tokenizes a folder of text into GPT-2 token files (train.bin, val.bin, meta.json) and records where the text
# came from as meta.json's "source" (packages and versions, never a machine path). Used by the corpus scripts.
#   bash scripts/tokenize-corpus.sh TEXT_DIR OUT_DIR SOURCE
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=$1 out=$2 source_name=$3
mkdir -p .cache
# prepareDataset bundled from the current source, like `node dist/cli.js prepare` with the same flags: a
# dist/ built before the reader learnt a format (.pod) would silently skip those files.
npx esbuild scripts/prepareDatasetEntry.ts --bundle --platform=node --format=cjs --log-level=warning \
  --outfile=.cache/prepare-dataset.cjs
node .cache/prepare-dataset.cjs --source "$corpus" --out "$out" >/dev/null
# prepare records the absolute folder ("folder:/home/…/.cache/…"), which then shows up in benchmark results
# from other machines; the packages and versions say what the text is, wherever it was prepared.
SOURCE="$source_name" node -e '
  const fs = require("fs"), file = process.argv[1];
  const meta = JSON.parse(fs.readFileSync(file, "utf8"));
  fs.writeFileSync(file, JSON.stringify({ ...meta, source: process.env.SOURCE }, null, 2) + "\n");
' "$out/meta.json"
node -p 'const m = require(require("path").resolve(process.argv[1])); `${m.source}: ${m.n_train} train / ${m.n_val} val tokens`' "$out/meta.json" >&2
