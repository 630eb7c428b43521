#!/usr/bin/env bash
# Runs every test: protocol freshness, type check, Python trainer tests (incl. torchrun on CPU), TypeScript
# unit tests, the panel in headless Chromium, fault injection (SIGKILL + resume), and the end-to-end
# journeys in a real VS Code (code-server).
# This is the README's test command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."
HIMA_TEST_DEPS=1 bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"   # tests that spawn `python3` get the venv with torch + hima
# Chromium (panel + e2e) and code-server (e2e), installed once into a cache outside the repository.
bash test/e2e/setup.sh >/dev/null

failed=()
passed=0
stage() {
  local name=$1; shift
  local t0=$(date +%s)
  echo; echo "=== $name"
  if "$@"; then echo "=== $name: ok ($(( $(date +%s) - t0 )) s)"; passed=$((passed + 1)); else echo "=== $name: FAILED ($(( $(date +%s) - t0 )) s)"; failed+=("$name"); fi
}
stage "typecheck" npm run --silent typecheck
stage "trainer (pytest)" python -m pytest trainer/tests -q
stage "unit (node:test)" node --test dist-test/unit/
stage "panel (headless Chromium)" node --test dist-test/panel/
stage "faults (SIGKILL + resume)" npm run --silent test:faults
stage "e2e (code-server)" npm run --silent test:e2e

echo
[ ${#failed[@]} -eq 0 ] || echo "FAILED stages: ${failed[*]}"
echo "stages: $passed passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
