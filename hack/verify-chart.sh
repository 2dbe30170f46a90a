#!/usr/bin/env bash
# Checks the Helm chart without a cluster: its CRD copies (charts/trustgate/crds-src/) are byte-for-byte
# crds/ (the source of truth), and `helm lint --strict` passes with the default values and with every
# charts/trustgate/ci/*-values.yaml. `--fix` refreshes the CRD copies first.
# The full checks (kubeconform, server dry run, install, RBAC) are operator/test/integration/chart-*.test.ts.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=hack/versions.sh
source "$root/hack/versions.sh"
chart="$root/charts/trustgate"

if [[ "${1:-}" == "--fix" ]]; then
  rm -f "$chart"/crds-src/*.yaml
  cp "$root"/crds/*.yaml "$chart/crds-src/"
fi

status=0
sources="$(cd "$root/crds" && ls ./*.yaml)"
copies="$(cd "$chart/crds-src" && ls ./*.yaml)"
if [[ "$sources" != "$copies" ]]; then
  echo "verify-chart: charts/trustgate/crds-src/ does not hold the same files as crds/ (run $0 --fix)" >&2
  status=1
fi
for crd in "$root"/crds/*.yaml; do
  copy="$chart/crds-src/$(basename "$crd")"
  if [[ -f "$copy" ]] && ! cmp -s "$crd" "$copy"; then
    echo "verify-chart: charts/trustgate/crds-src/$(basename "$crd") differs from crds/ (run $0 --fix)" >&2
    status=1
  fi
done

bin="${TRUSTGATE_BIN_DIR:-$(bash "$root/hack/build-tools.sh" all)}"
for values in "" "$chart"/ci/*-values.yaml; do
  if ! out="$("$bin/helm" lint --strict "$chart" --kube-version "${K8S_VERSION#v}" ${values:+-f "$values"} 2>&1)"; then
    echo "verify-chart: helm lint --strict ${values:+-f ${values#"$root/"}} failed:" >&2
    echo "$out" >&2
    status=1
  fi
done
[[ $status -eq 0 ]] && echo "verify-chart: ok"
exit "$status"
