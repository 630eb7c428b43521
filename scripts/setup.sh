#!/usr/bin/env bash
# Installs what HiMA needs on a fresh machine (Node 20 + Python >= 3.10, no GPU), idempotently:
# npm dependencies, the bundles, and a Python virtual environment `.venv` with a CPU build of torch
# and the `hima` trainer package. Used by scripts/demo.sh and scripts/test.sh.
#   HIMA_TEST_DEPS=1  also installs the trainer's test extras (pytest, jsonschema, hypothesis, transformers, peft, lightning).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm dependencies (npm ci)…" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
fi
npm run --silent build >&2

PY=${HIMA_BOOTSTRAP_PYTHON:-python3}
if ! command -v "$PY" >/dev/null 2>&1; then
  echo "setup: no '$PY' on PATH; install Python >= 3.10 (or set HIMA_BOOTSTRAP_PYTHON)" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv…" >&2
  "$PY" -m venv .venv
fi
# torch first, pinned: the machine has a local CPU build of 2.13.0; an unpinned torch would pull a multi-GB CUDA build.
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  echo "setup: installing torch (CPU build)…" >&2
  .venv/bin/pip install --quiet --disable-pip-version-check "torch==${HIMA_TORCH_VERSION:-2.13.0}" >&2
fi
extras=""
[ "${HIMA_TEST_DEPS:-0}" = "1" ] && extras="[test]"
stamp=.venv/.hima-trainer-installed$extras
if [ ! -f "$stamp" ] || [ trainer/pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing the hima trainer package${extras}…" >&2
  .venv/bin/pip install --quiet --disable-pip-version-check -e "./trainer$extras" >&2
  touch "$stamp"
fi
echo "setup: ready in $(( $(date +%s) - start )) s" >&2
