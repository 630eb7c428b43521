#!/usr/bin/env bash
# Prepares the Linux kernel documentation alone (Debian package linux-doc-6.12, ~11.3M GPT-2 tokens) as token
# files in data/linux-doc/: the first GPU corpus (issue 5), kept so earlier results can be reproduced. The
# download, extraction and tokenizing are scripts/prepare-gpu-corpus.sh's, with this one package.
#   OUT=<dir>  output folder (default data/linux-doc)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-data/linux-doc} exec bash scripts/prepare-gpu-corpus.sh linux-doc-6.12
