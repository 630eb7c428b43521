#!/usr/bin/env bash
# Installs what the end-to-end tests need on a fresh Debian machine that only reaches npm/PyPI/Debian:
#   Debian: chromium (driven by playwright-core), ripgrep (VS Code's search binary), libkrb5-dev (kerberos build)
#   npm:    code-server 4.100.3 (= VS Code 1.100.3), the last release that runs on Node 20; Node 20 or later is accepted.
# code-server's postinstall downloads ripgrep from GitHub (blocked here), so we install with --ignore-scripts and
# do by hand what the postinstall would do: rebuild the native modules against Node 20 and put Debian's rg where
# @vscode/ripgrep expects it. Recipe checked in /work/shared/notes/vscode-offline-e2e.md.
#
# Everything goes into a cache folder outside the repository; a second run skips every step that is already done
# (it checks that the installed server really starts, not just that a folder exists). Each step prints its time.
# Prints the code-server executable path as the last line of stdout when sourced output is not wanted: use
#   CODE_SERVER=$(bash test/e2e/setup.sh | tail -n1)
set -euo pipefail

CODE_SERVER_VERSION=4.100.3
CACHE="${HIMA_E2E_CACHE:-$HOME/.cache/hima-e2e}"
PREFIX="$CACHE/code-server-$CODE_SERVER_VERSION"
CS_PKG="$PREFIX/node_modules/code-server"
CS_BIN="$CS_PKG/out/node/entry.js"
READY_MARK="$PREFIX/.installed-ok"

log() { echo "[e2e-setup] $*" >&2; }
step() { # step <name> <command...>: runs a step and prints how long it took
  local name=$1; shift
  local t0=$SECONDS
  log "$name ..."
  "$@" >&2
  log "$name done in $((SECONDS - t0)) s"
}

# Node 20 or later, as the README says (code-server's native modules are rebuilt below against the Node found).
check_node() {
  local major
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if ! [ "$major" -ge 20 ] 2>/dev/null; then
    log "the end-to-end tests need Node 20 or later, found $(node --version 2>/dev/null || echo 'no node')"
    return 1
  fi
  [ "$major" = 20 ] || log "Node $(node --version): code-server $CODE_SERVER_VERSION is released for Node 20; its native modules are rebuilt for this one"
}
check_node
# --check-node: only the check above (test/unit/e2eSetup.test.ts)
[ "${1:-}" = "--check-node" ] && exit 0

need_debs=()
command -v chromium >/dev/null 2>&1 || need_debs+=(chromium)
command -v rg >/dev/null 2>&1 || need_debs+=(ripgrep)
[ -e /usr/include/gssapi/gssapi.h ] || need_debs+=(libkrb5-dev)
# The native rebuilds need a compiler; a slim image may lack one.
command -v g++ >/dev/null 2>&1 || need_debs+=(g++)
command -v make >/dev/null 2>&1 || need_debs+=(make)
# Without any font Chromium paints text as boxes in the screenshots.
{ command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list 2>/dev/null | head -n1)" ]; } || need_debs+=(fonts-dejavu-core)

apt_install() {
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
  $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "$@"
}
if [ ${#need_debs[@]} -gt 0 ]; then
  step "apt-get install ${need_debs[*]}" apt_install "${need_debs[@]}"
else
  log "Debian packages present (chromium, ripgrep, libkrb5-dev)"
fi


server_works() { [ -f "$READY_MARK" ] && node "$CS_BIN" --version >/dev/null 2>&1; }

install_code_server() {
  rm -rf "$PREFIX"
  mkdir -p "$PREFIX"
  echo '{"name":"hima-e2e-code-server","private":true}' >"$PREFIX/package.json"
  (cd "$PREFIX" && npm install --no-audit --no-fund --loglevel=error --ignore-scripts "code-server@$CODE_SERVER_VERSION")
  (cd "$PREFIX" && npm rebuild --loglevel=error argon2)
}

install_vscode_deps() {
  local vs="$CS_PKG/lib/vscode"
  (cd "$vs" && npm install --no-audit --no-fund --loglevel=error --omit=dev --ignore-scripts)
  (cd "$vs" && npm_config_yes=true npm rebuild --loglevel=error \
    @parcel/watcher @vscode/spdlog @vscode/deviceid kerberos native-watchdog node-pty)
  mkdir -p "$vs/node_modules/@vscode/ripgrep/bin"
  cp "$(command -v rg)" "$vs/node_modules/@vscode/ripgrep/bin/rg"
  (cd "$vs" && ln -sfn node_modules node_modules.asar)
  (cd "$vs/bin/remote-cli" && ln -sfn code-linux.sh code-server)
  (cd "$vs/bin/helpers" && ln -sfn browser-linux.sh browser.sh)
  (cd "$vs/extensions" && npm install --no-audit --no-fund --loglevel=error --omit=dev --ignore-scripts)
}

if server_works; then
  log "code-server $CODE_SERVER_VERSION already installed in $PREFIX"
else
  step "npm install code-server@$CODE_SERVER_VERSION (no scripts) + argon2" install_code_server
  step "VS Code server dependencies + native rebuilds" install_vscode_deps
  node "$CS_BIN" --version >/dev/null
  touch "$READY_MARK"
  log "code-server $CODE_SERVER_VERSION ready: $CS_BIN"
fi

if [ ! -d "$(dirname "$0")/../../node_modules/playwright-core" ]; then
  log "playwright-core missing from node_modules: run npm ci in the repository first"
  exit 1
fi
echo "$CS_BIN"
