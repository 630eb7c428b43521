#!/usr/bin/env bash
# The README's first command: on a fresh machine (Node 20 + Python >= 3.10, no GPU) install what HiMA
# needs, prepare the Brown corpus, and run a short HiMA training on the CPU with a live progress bar and
# a summary. Idempotent: a second run skips what is already installed or prepared.
#   HIMA_DEMO_STEPS=N   training steps (default 300: about 35 s of training on 2 idle CPU cores)
#   HIMA_DEMO_VOCAB=N   reduced vocabulary for the tiny model (default 4096; see README)
set -euo pipefail
cd "$(dirname "$0")/.."

steps=${HIMA_DEMO_STEPS:-300}
vocab=${HIMA_DEMO_VOCAB:-4096}
data=data/brown

fail() { echo "demo: $*" >&2; exit 1; }
command -v node >/dev/null 2>&1 || fail "Node.js is not on PATH (Node 20 or newer is needed)"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || fail "Node.js $(node --version) is too old; Node 20 or newer is needed"
[[ "$steps" =~ ^[1-9][0-9]*$ ]] || fail "HIMA_DEMO_STEPS must be a positive integer, got '$steps'"
[[ "$vocab" =~ ^[1-9][0-9]*$ ]] || fail "HIMA_DEMO_VOCAB must be a positive integer, got '$vocab'"

t0=$(date +%s)
echo "demo: 1/3 installing (npm dependencies, bundles, .venv with CPU torch and the trainer)…" >&2
bash scripts/setup.sh || fail "installation failed (see the messages above)"
t1=$(date +%s)

echo "demo: 2/3 preparing the Brown corpus (GPT-2 BPE, vocabulary reduced to $vocab) into $data…" >&2
node dist/cli.js prepare --source brown --out "$data" --vocab "$vocab" --if-missing || fail "dataset preparation failed"
t2=$(date +%s)

echo "demo: 3/3 training the tiny GPT-2 with HiMA for $steps steps on the CPU (Ctrl-C stops gracefully)…" >&2
status=0
node dist/cli.js train --preset tiny --data "$data" --max-steps "$steps" --python .venv/bin/python || status=$?
t3=$(date +%s)

echo >&2
echo "demo: install $((t1 - t0)) s, data preparation $((t2 - t1)) s, training $((t3 - t2)) s (total $((t3 - t0)) s)" >&2
[ "$status" -eq 0 ] || fail "training failed (exit code $status)"
