#!/usr/bin/env bash
# Builds bench/webhook-load (standard library only: nothing is fetched) into a cache folder reused while its sources
# are unchanged, and prints the binary's path. Usage: bash bench/webhook-load/build.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
command -v go >/dev/null 2>&1 || { echo "webhook-load: go not found on PATH (install Go >= 1.24)" >&2; exit 3; }
cache="${TRUSTGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/trustgate}/webhook-load"
key="$( (go version; cd "$here" && sha256sum go.mod main.go) | sha256sum | cut -c1-16)"
bin="$cache/webhook-load-$key"
if [[ ! -x "$bin" ]]; then
  mkdir -p "$cache"
  (cd "$here" && GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0 go build -trimpath -o "$bin.tmp" .)
  mv "$bin.tmp" "$bin"
fi
echo "$bin"
