#!/usr/bin/env bash
# Installs the project's Node (24 LTS, from the npm registry's node-linux-<arch> package) into
# .tools/node unless the shell's Node is already the pinned version, then installs npm packages.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=hack/versions.sh
source "$root/hack/versions.sh"
cd "$root"

case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "setup-node: unsupported machine $(uname -m)" >&2; exit 1 ;;
esac

tools="$root/.tools/node"
node_bin="$tools/node_modules/.bin/node"
if [[ ! -x "$node_bin" ]] || [[ "$("$node_bin" --version)" != "v$NODE_VERSION" ]]; then
  echo "setup-node: installing Node $NODE_VERSION (node-linux-$arch) into .tools/node" >&2
  rm -rf "$tools"
  mkdir -p "$tools"
  echo '{"private":true}' >"$tools/package.json"
  npm install --prefix "$tools" --no-save --no-audit --no-fund --loglevel=error "node-linux-$arch@$NODE_VERSION" >&2
fi
export PATH="$tools/node_modules/.bin:$PATH"

stamp=node_modules/.trustgate-installed
if [[ ! -f "$stamp" ]] || [[ package-lock.json -nt "$stamp" ]]; then
  echo "setup-node: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
  touch "$stamp"
fi
