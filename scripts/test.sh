#!/usr/bin/env bash
# Runs every test: protocol freshness, type check, Python trainer tests, TypeScript unit tests,
# the panel in headless Chromium, and the end-to-end journey in a real VS Code (code-server).
# This is the README's test command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."
HIMA_TEST_DEPS=1 bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"   # tests that spawn `python3` get the venv with torch + hima

failed=()
stage() {
  local name=$1; shift
  local t0=$(date +%s)
  echo; echo "=== $name"
  if "$@"; then echo "=== $name: ok ($(( $(date +%s) - t0 )) s)"; else echo "=== $name: FAILED ($(( $(date +%s) - t0 )) s)"; failed+=("$name"); fi
}
stage "typecheck" npm run --silent typecheck
stage "trainer (pytest)" python -m pytest trainer/tests -q
stage "unit (node:test)" node --test dist-test/unit/
stage "panel (headless Chromium)" node --test dist-test/panel/
stage "e2e (code-server)" npm run --silent test:e2e

echo
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED stages: ${failed[*]}"
  exit 1
fi
echo "all test stages passed"
