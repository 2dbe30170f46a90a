#!/usr/bin/env bash
# Builds the peers `make bench-peers` compares trustgate with, into a cache folder reused while the sources are
# unchanged: the Go programs under bench/peers/go (go-tdx-guest, go-sev-guest, pinned in go.mod/go.sum, fetched
# through the Go module proxy) and a Python venv with nv-local-gpu-verifier from PyPI. Prints the peers folder on
# stdout; progress goes to stderr. Usage: bash bench/peers/build.sh [go|python|all]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NV_VERIFIER_VERSION=2.7.3
cache="${TRUSTGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/trustgate}/peers"
log() { echo "bench-peers: $*" >&2; }
need() {
  command -v "$1" >/dev/null 2>&1 || { log "$1 not found on PATH: $2"; exit 3; }
}

build_go() {
  need go "install Go >= 1.24 (https://go.dev/dl/); the peers are built through the Go module proxy"
  local key
  key="$( (go version; cd "$here/go" && find . -name '*.go' -o -name 'go.mod' -o -name 'go.sum' | LC_ALL=C sort | xargs sha256sum) | sha256sum | cut -c1-16)"
  local bin="$cache/go-$key"
  if [[ -x "$bin/tdxpeer" && -x "$bin/snppeer" ]]; then echo "$bin"; return 0; fi
  log "building go-tdx-guest and go-sev-guest peers (first build fetches modules from the Go module proxy)"
  mkdir -p "$bin.tmp"
  (cd "$here/go" && GOTOOLCHAIN=local GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0 \
    go build -trimpath -o "$bin.tmp/" ./tdxpeer ./snppeer)
  rm -rf "$bin" && mv "$bin.tmp" "$bin"
  echo "$bin"
}

build_python() {
  need python3 "install Python >= 3.9 with the venv module; nv-local-gpu-verifier comes from PyPI"
  local venv="$cache/venv-nv-local-gpu-verifier-$NV_VERIFIER_VERSION"
  if [[ -f "$venv/.installed" ]]; then echo "$venv"; return 0; fi
  log "installing nv-local-gpu-verifier $NV_VERIFIER_VERSION into $venv (from PyPI)"
  rm -rf "$venv"
  python3 -m venv "$venv" || { log "python3 -m venv failed: install the venv module (e.g. apt-get install python3-venv)"; exit 3; }
  "$venv/bin/pip" install --quiet --disable-pip-version-check "nv-local-gpu-verifier==$NV_VERIFIER_VERSION" >&2
  touch "$venv/.installed"
  echo "$venv"
}

case "${1:-all}" in
  go) build_go ;;
  python) build_python ;;
  all) build_go; build_python ;;
  *) log "unknown target '$1' (go|python|all)"; exit 2 ;;
esac
