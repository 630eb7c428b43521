#!/usr/bin/env bash
# Prepares the King James Bible as GPT-2 token files: the new corpus of the fine-tuning benchmark
# (bench/finetune.py), as far from the base's Debian documentation (scripts/prepare-gpu-corpus.sh) as offline
# text gets. Debian's bible-kjv-text holds the text in its own compressed format; bible-kjv's `bible` prints it.
# Both .debs are downloaded (never installed) into .cache/debs and unpacked into a temporary folder; the verse
# references ("Ge1:1 ") are stripped, one verse a line. ~1.0M train tokens in a few seconds.
#   bash scripts/prepare-finetune-corpus.sh      OUT=<dir> (default data/kjv-corpus)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-data/kjv-corpus}
CACHE=.cache
CORPUS=$CACHE/corpora/$(basename "$OUT")
log() { echo "prepare-finetune-corpus: $*" >&2; }

mkdir -p "$CACHE/debs"
deb_of() { ls "$CACHE"/debs/"$1"_*.deb 2>/dev/null | head -n1 || true; }
for p in bible-kjv bible-kjv-text; do
  if [ -z "$(deb_of "$p")" ]; then
    log "downloading $p…"
    (cd "$CACHE/debs" && { apt-get download "$p" >&2 || { apt-get update -qq >&2 && apt-get download "$p" >&2; }; })
  fi
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for p in bible-kjv bible-kjv-text; do dpkg-deb -x "$(deb_of "$p")" "$tmp"; done
rm -rf "$CORPUS"
mkdir -p "$CORPUS"
# Genesis 1:1 through Revelation 22:21: every verse, "Ge1:1 In the beginning ..." -> "In the beginning ...".
"$tmp/usr/bin/bible" -p "$tmp/usr/lib" -f "gen1:1-rev22:21" | sed -E 's/^[1-3]?[A-Za-z]+[0-9]+:[0-9]+ //' > "$CORPUS/kjv.txt"
[ "$(wc -l < "$CORPUS/kjv.txt")" -gt 31000 ] || { log "expected the whole Bible (31,102 verses), got $(wc -l < "$CORPUS/kjv.txt") lines"; exit 1; }
version=$(basename "$(deb_of bible-kjv-text)" .deb | cut -d_ -f2)
log "tokenizing $CORPUS -> $OUT"
bash scripts/tokenize-corpus.sh "$CORPUS" "$OUT" "debian bible-kjv-text=$version (King James Version)"
