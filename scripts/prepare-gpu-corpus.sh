#!/usr/bin/env bash
# Prepares English documentation from Debian packages as GPT-2 token files — the offline corpus for the GPU
# runs. No dataset hub is reachable (shared notes, "corpora and tokenizer"), and GPT-2 Small's 3000 steps x
# 10 x 1024 tokens (30.7M) must not repeat the corpus more than twice: the default set gives 20.6M train /
# 0.95M val tokens (linux-doc 10.8M, python 3.4M, vim 3.3M, perl 2.4M, git 0.8M) in ~80 s. train.bin
# (41 MB) must stay under 50 MB: it travels to the GPU machine under a 64 MiB limit.
#   bash scripts/prepare-gpu-corpus.sh [PACKAGE...]   default: all of PACKAGES below
#   OUT=<dir>  output folder (default data/gpu-corpus)
# Each package contributes ONE copy of its text, as sources (reST, POD, AsciiDoc, vim help), never the HTML built
# from them: see text_of. The .debs are downloaded (never installed) into .cache/debs and reused; the text
# is extracted to .cache/corpora/<name of OUT>/<package>/ on every run, a fixed layout, so the same .debs
# give the same token files. meta.json's "source" names the packages and versions, not a machine path.
# scripts/prepare-linux-doc.sh is this script with linux-doc-6.12 alone.
set -euo pipefail
cd "$(dirname "$0")/.."
PACKAGES=(linux-doc-6.12 python3.11-doc perl-doc vim-runtime git-doc)
OUT=${OUT:-data/gpu-corpus}
CACHE=.cache
CORPUS=$CACHE/corpora/$(basename "$OUT")
log() { echo "prepare-gpu-corpus: $*" >&2; }
start=$(date +%s)

# Where a package keeps its text: the folder, the files under it to take, then files to leave out (tar
# wildcards, where * also matches /).
text_of() {
  case "$1" in
    # Documentation/**/*.rst.gz are the sources; html/_sources repeats the same text as .rst.txt.
    linux-doc-6.12) echo "./usr/share/doc/linux-doc-6.12/Documentation *" ;;
    # Only Sphinx's copy of the reST sources is shipped (html/_sources/**/*.rst.txt).
    python3.11-doc) echo "./usr/share/doc/python3.11/html/_sources *.rst.txt" ;;
    # The POD sources of perl's manual (its man pages are generated from them). perltoc repeats the heads
    # of every other page; perluniprops is a generated table of Unicode properties.
    perl-doc) echo "./usr/share/perl/5.*/pod *.pod */perltoc.pod */perluniprops.pod" ;;
    # The AsciiDoc sources of git's manual pages and guides, next to the HTML built from them.
    git-doc) echo "./usr/share/doc/git-doc *.txt" ;;
    # Vim's help files (plain text; translations are in other packages).
    vim-runtime) echo "./usr/share/vim/vim9*/doc *.txt" ;;
    *) log "no text layout known for package $1 (add it to text_of)"; return 1 ;;
  esac
}

packages=("${@:-${PACKAGES[@]}}")
for p in "${packages[@]}"; do text_of "$p" >/dev/null; done

mkdir -p "$CACHE/debs"
deb_of() { ls "$CACHE"/debs/"$1"_*.deb 2>/dev/null | head -n1 || true; }
missing=()
for p in "${packages[@]}"; do [ -n "$(deb_of "$p")" ] || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  log "downloading ${missing[*]}…"
  # apt-get download needs the package lists; refresh them only if the first try fails.
  (cd "$CACHE/debs" && { apt-get download "${missing[@]}" >&2 || { apt-get update -qq >&2 && apt-get download "${missing[@]}" >&2; }; })
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rm -rf "$CORPUS"
mkdir -p "$CORPUS"
source_name=debian
for p in "${packages[@]}"; do
  deb=$(deb_of "$p")
  [ -n "$deb" ] || { log "$p: no .deb in $CACHE/debs after download"; exit 1; }
  read -r -a spec < <(text_of "$p") # an array, so the wildcards are not expanded here
  dir=${spec[0]} files=${spec[1]} excludes=()
  for x in "${spec[@]:2}"; do excludes+=(--exclude="$x"); done
  log "extracting $dir/$files from $(basename "$deb")${excludes[*]:+ ${excludes[*]}}…"
  # Like `dpkg -x` (unpack without installing), but only the text: skipping the HTML saves writing and
  # deleting hundreds of MB on every run.
  mkdir -p "$tmp/$p"
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp/$p" --wildcards "${excludes[@]}" "$dir/$files"
  mv "$tmp/$p"/$dir "$CORPUS/$p" # unquoted: $dir may be a glob (perl's version)
  # The .deb's name is <package>_<version>_<arch>.deb, the version URL-quoted (%3a for an epoch's colon).
  version=$(basename "$deb" .deb | cut -d_ -f2 | sed 's/%3a/:/g')
  source_name="$source_name $p=$version"
done

log "tokenizing $CORPUS -> $OUT"
bash scripts/tokenize-corpus.sh "$CORPUS" "$OUT" "$source_name"
log "done in $(( $(date +%s) - start )) s"
