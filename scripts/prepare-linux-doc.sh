#!/usr/bin/env bash
# Prepares the Linux kernel documentation (Debian package linux-doc-6.12) as GPT-2 token files in
# data/linux-doc/ — the larger corpus for the GPU runs (issue 5).
# The package holds two copies of the same docs: Documentation/**/*.rst.gz (sources) and html/_sources
# (the same text as .rst.txt). We use ONE copy: the .rst.gz/.txt.gz files under Documentation/.
# The .deb is cached in .cache/debs; the docs are extracted to .cache/linux-doc-6.12 (a fixed path, so
# meta.json's "source" and the token files are identical on every run).
#   OUT=<dir>  output folder (default data/linux-doc)
set -euo pipefail
cd "$(dirname "$0")/.."
PACKAGE=linux-doc-6.12
OUT=${OUT:-data/linux-doc}
CACHE=.cache
DOCS=$CACHE/$PACKAGE
start=$(date +%s)

mkdir -p "$CACHE/debs"
deb=$(ls "$CACHE"/debs/${PACKAGE}_*.deb 2>/dev/null | head -n1 || true)
if [ -z "$deb" ]; then
  echo "prepare-linux-doc: downloading $PACKAGE…" >&2
  # apt-get download needs the package lists; refresh them only if the first try fails.
  (cd "$CACHE/debs" && { apt-get download "$PACKAGE" >&2 || { apt-get update -qq >&2 && apt-get download "$PACKAGE" >&2; }; })
  deb=$(ls "$CACHE"/debs/${PACKAGE}_*.deb | head -n1)
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "prepare-linux-doc: extracting $(basename "$deb")…" >&2
# Like `dpkg -x` (unpack without installing), but only the Documentation/ tree: skipping html/ saves
# writing and deleting ~200 MB on every run.
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" --wildcards "./usr/share/doc/$PACKAGE/Documentation/*"
rm -rf "$DOCS"
mkdir -p "$DOCS"
mv "$tmp/usr/share/doc/$PACKAGE/Documentation" "$DOCS/Documentation"

echo "prepare-linux-doc: tokenizing $DOCS/Documentation -> $OUT" >&2
if [ -f dist/cli.js ]; then
  node dist/cli.js prepare --source "$DOCS/Documentation" --out "$OUT"
else
  # The CLI is not built yet: bundle the same prepareDataset behind a minimal entry with the same flags.
  npx esbuild scripts/prepareDatasetEntry.ts --bundle --platform=node --format=cjs --log-level=warning \
    --outfile="$CACHE/prepare-dataset.cjs"
  node "$CACHE/prepare-dataset.cjs" --source "$DOCS/Documentation" --out "$OUT"
fi
rm -rf "$tmp"
echo "prepare-linux-doc: done in $(( $(date +%s) - start )) s" >&2
