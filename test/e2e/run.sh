#!/usr/bin/env bash
# npm run test:e2e — the extension in a real VS Code (code-server) driven by headless Chromium:
#   setup (Debian chromium/ripgrep/libkrb5-dev, code-server from npm; skipped when present)
#   -> npm run build -> package the .vsix -> the user journey -> the extension-host tests
#   -> the robustness stories (window reload, SIGKILL + Resume Run, hostile tensor names, a 4-GPU run replayed,
#      fine-tuning from a checkpoint, a user's own script followed live).
# Prints one final line "N passed, N failed" and exits non-zero on any failure. Screenshots and logs go to
# test-results/e2e/. Every code-server started here is stopped at the end, also on failure or Ctrl-C.
#   --update-docs   also copy the journey screenshots to docs/images/ (for the README)
#   --journey-only / --host-only / --robustness-only   run one driver
#   HIMA_E2E_STORIES=reload,sigkill,hostile,four-gpu,finetune,own-script   which robustness stories to run (default: all)
set -uo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
T0=$SECONDS

run_journey=1 run_host=1 run_robust=1 docs=""
for arg in "$@"; do
  case $arg in
    --update-docs) docs="$REPO/docs/images" ;;
    --journey-only) run_host=0 run_robust=0 ;;
    --host-only) run_journey=0 run_robust=0 ;;
    --robustness-only) run_journey=0 run_host=0 ;;
    *) echo "unknown option $arg" >&2; exit 2 ;;
  esac
done

RESULTS="$REPO/test-results/e2e"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/hima-e2e.XXXXXX")
PIDFILE="$WORK/code-server.pids"
rm -rf "$RESULTS" && mkdir -p "$RESULTS"

# Whatever happens (failure, Ctrl-C, a driver killed hard), no code-server process group survives us.
cleanup() {
  if [ -f "$PIDFILE" ]; then
    while read -r pgid; do
      [ -n "$pgid" ] && kill -KILL -- "-$pgid" 2>/dev/null
    done <"$PIDFILE"
  fi
  # Keep the code-server logs with the results, then drop the scratch folder (workspaces, user data).
  find "$WORK" -maxdepth 2 -name code-server.log -exec sh -c 'cp "$1" "$2/$(basename "$(dirname "$1")")-code-server.log"' _ {} "$RESULTS" \; 2>/dev/null
  if [ -n "${HIMA_E2E_KEEP:-}" ]; then echo "e2e: kept $WORK (HIMA_E2E_KEEP)" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stage() { # stage <name> <command...>: prints how long it took; returns the command's status
  local name=$1; shift
  local t=$SECONDS
  echo "--- e2e: $name" >&2
  "$@"
  local rc=$?
  echo "--- e2e: $name: $([ $rc = 0 ] && echo ok || echo "FAILED (exit $rc)") in $((SECONDS - t)) s" >&2
  return $rc
}

fail_early() {
  echo "e2e: $1"
  echo "0 passed, 1 failed"
  exit 1
}

CODE_SERVER=$(stage "setup" bash test/e2e/setup.sh | tail -n1) || fail_early "setup failed"
[ -f "$CODE_SERVER" ] || fail_early "setup did not print the code-server entry (got: $CODE_SERVER)"

stage "build (npm run build + e2e bundles)" sh -c 'npm run --silent build && node test/e2e/build.mjs' || fail_early "build failed"
[ -f dist/extension.js ] || fail_early "dist/extension.js was not built"

VSIX="$WORK/hima.vsix"
# --no-rewrite-relative-links: without a repository URL vsce refuses README's relative links; a locally
# installed .vsix does not need them rewritten.
stage "package .vsix" npx --no-install vsce package --no-dependencies --allow-missing-repository --skip-license --no-rewrite-relative-links -o "$VSIX" \
  >"$RESULTS/vsce.log" 2>&1 || { cat "$RESULTS/vsce.log"; fail_early "packaging the .vsix failed"; }

# The interpreter the README's setup creates, else python3 (either must have torch and hima).
PYTHON=python3
[ -x "$REPO/.venv/bin/python" ] && PYTHON="$REPO/.venv/bin/python"
"$PYTHON" -c "import torch, hima" 2>/dev/null || fail_early "$PYTHON cannot import torch and hima (run scripts/setup.sh)"

export HIMA_E2E_REPO="$REPO" HIMA_E2E_CODE_SERVER="$CODE_SERVER" HIMA_E2E_VSIX="$VSIX" HIMA_E2E_PYTHON="$PYTHON"
export HIMA_E2E_WORK="$WORK" HIMA_E2E_RESULTS="$RESULTS" HIMA_E2E_PIDFILE="$PIDFILE" HIMA_E2E_DOCS_IMAGES="$docs"
export NODE_PATH="$REPO/node_modules"

status=0
if [ $run_journey = 1 ]; then
  stage "user journey (packaged .vsix, Playwright)" node dist-test/e2e/journey.js || status=1
fi
if [ $run_host = 1 ]; then
  stage "extension-host tests" node dist-test/e2e/hostTests.js || status=1
fi
if [ $run_robust = 1 ]; then
  stage "robustness stories (reload, SIGKILL + resume, hostile names, 4-GPU replay, fine-tune, own script)" node dist-test/e2e/robustness.js || status=1
fi

# One line over every driver: each wrote <suite>.json with its counts (a driver that crashed wrote none).
node -e '
  const fs = require("fs"), path = require("path");
  const dir = process.argv[1], expected = process.argv.slice(2);
  let passed = 0, failed = 0, skipped = 0;
  for (const suite of expected) {
    const f = path.join(dir, suite + ".json");
    if (!fs.existsSync(f)) { console.log(`e2e: ${suite} wrote no results (it crashed)`); failed++; continue; }
    const r = JSON.parse(fs.readFileSync(f, "utf8"));
    passed += r.passed; failed += r.failed; skipped += r.skipped;
    for (const s of r.steps.filter((s) => s.status === "failed")) console.log(`e2e: FAILED [${suite}] ${s.name}: ${s.error.split("\n")[0]}`);
  }
  if (skipped) console.log(`e2e: ${skipped} step(s) skipped after a failure`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
' "$RESULTS" $([ $run_journey = 1 ] && echo journey) $([ $run_host = 1 ] && echo host) \
  $([ $run_robust = 1 ] && echo robustness-setup reload sigkill hostile four-gpu finetune own-script) || status=1
echo "e2e: took $((SECONDS - T0)) s; screenshots and logs in test-results/e2e/"
exit $status
