#!/usr/bin/env bash
# make demo: a local control plane with the trustgate CRDs and samples, then `kubectl get chost,atp,cvm`.
# The control plane keeps running for you to explore; `make cluster-down` stops it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bin="${TRUSTGATE_BIN_DIR:?run through make demo}"
kubectl="$bin/kubectl"

node hack/cluster.ts up >/dev/null
export KUBECONFIG="${TRUSTGATE_CLUSTER_DIR:-$root/.cache/cluster}/kubeconfig"

echo "# Installing the trustgate CRDs"
"$kubectl" apply --server-side --field-manager=trustgate-demo -f crds/
"$kubectl" wait --for condition=Established --timeout=60s \
  crd/confidentialhosts.trustgate.io crd/attestationpolicies.trustgate.io crd/confidentialvms.trustgate.io

echo "# Applying the samples"
"$kubectl" apply --server-side --field-manager=trustgate-demo -f crds/samples/
# The agent writes a host's status through the status subresource; do the same with the sample's status.
for host in crds/samples/confidentialhost-*.yaml; do
  name="$("$kubectl" get -f "$host" -o jsonpath='{.metadata.name}')"
  "$kubectl" patch confidentialhost "$name" --subresource=status --type=merge --patch-file="$host" >/dev/null
done

echo
echo "# kubectl get chost,atp,cvm -A"
"$kubectl" get chost,atp,cvm -A
echo
echo "The local control plane keeps running: export KUBECONFIG=$KUBECONFIG (kubectl: $kubectl)"
echo "Stop it with: make cluster-down"
