#!/usr/bin/env bash
# Builds the local control plane (kube-apiserver, kubectl, etcd) and the chart tools (helm,
# kubeconform) from the Go module proxy into a cache folder keyed by version, so a second run
# builds nothing. Prints the bin folder on stdout; progress goes to stderr.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=hack/versions.sh
source "$here/versions.sh"

cache="${TRUSTGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/trustgate}"
bin="$cache/bin/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-helm-$HELM_VERSION-kubeconform-$KUBECONFORM_VERSION"
mkdir -p "$bin"

export GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0 GOFLAGS=-buildvcs=false
log() { echo "build-tools: $*" >&2; }

k8s_ldflags() {
  local minor="${K8S_VERSION#v1.}"
  minor="${minor%%.*}"
  local date
  date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  local flags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    flags+=" -X $pkg.gitCommit=trustgate-local -X $pkg.gitTreeState=clean -X $pkg.buildDate=$date"
  done
  echo "$flags"
}

build_k8s() {
  local name="$1"
  [[ -x "$bin/$name" ]] && return 0
  log "building $name $K8S_VERSION (first build takes a while)"
  local start=$SECONDS
  (cd "$here/tools/k8s" && go build -trimpath -tags selinux,notest -ldflags "$(k8s_ldflags)" \
    -o "$bin/$name.tmp" "k8s.io/kubernetes/cmd/$name")
  mv "$bin/$name.tmp" "$bin/$name"
  log "built $name in $((SECONDS - start))s"
}

build_etcd() {
  [[ -x "$bin/etcd" ]] && return 0
  log "building etcd $ETCD_VERSION"
  local start=$SECONDS
  (cd "$here/tools/etcd" && go build -trimpath -ldflags "-s -w" -o "$bin/etcd.tmp" go.etcd.io/etcd/server/v3)
  mv "$bin/etcd.tmp" "$bin/etcd"
  log "built etcd in $((SECONDS - start))s"
}

install_go_tool() {
  local name="$1" pkg="$2" version="$3" ldflags="${4:-}"
  [[ -x "$bin/$name" ]] && return 0
  log "installing $name $version"
  local start=$SECONDS tmp
  tmp="$(mktemp -d)"
  GOBIN="$tmp" go install -trimpath -ldflags "-s -w $ldflags" "$pkg@$version"
  mv "$tmp/$name" "$bin/$name"
  rmdir "$tmp"
  log "installed $name in $((SECONDS - start))s"
}

wanted=("${@:-all}")
for what in "${wanted[@]}"; do
  case "$what" in
    all)
      build_etcd
      build_k8s kube-apiserver
      build_k8s kubectl
      install_go_tool helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION" \
        "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
      install_go_tool kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION"
      ;;
    control-plane) build_etcd; build_k8s kube-apiserver; build_k8s kubectl ;;
    *) echo "build-tools: unknown target '$what' (all|control-plane)" >&2; exit 2 ;;
  esac
done
echo "$bin"
