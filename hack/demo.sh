#!/usr/bin/env bash
# make demo: a local control plane with the trustgate CRDs and samples, agents on three fixture hosts, the
# controller, the admission webhook, a test-only KubeVirt simulator and a guest with a simulated SEV-SNP TEE
# and GPUs; ends with `kubectl get chost,atp,cvm` showing validated hosts and an Attested CVM, a workload
# Pod admitted for it and one refused for a CVM that is not attested. Everything keeps running for you
# to explore; `make cluster-down` stops it.
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
echo
node hack/demo-flow.ts "${TRUSTGATE_CLUSTER_DIR:-$root/.cache/cluster}"
echo
echo "# kubectl get chost,atp,cvm -A"
"$kubectl" get chost,atp,cvm -A
echo
echo "# Node labels set by the host controller"
"$kubectl" get nodes -L trustgate.io/validated,trustgate.io/tee,trustgate.io/gpu-cc,trustgate.io/gpu-count
echo
echo "# KubeVirt VirtualMachines the controller launched (VMIs played by the test-only simulator)"
"$kubectl" get vm,vmi -A
echo
echo "# Workload Pods the admission webhook admitted (only for an Attested CVM)"
"$kubectl" get pods -A -l trustgate.io/requires-attested-vm -L trustgate.io/requires-attested-vm
echo
echo "The local control plane keeps running: export KUBECONFIG=$KUBECONFIG (kubectl: $kubectl)"
echo "Stop it with: make cluster-down"
