#!/usr/bin/env bash
# The development path for people with Docker: a kind cluster, KubeVirt (software emulation), the trustgate
# image built from the Dockerfile and loaded into kind, and the chart installed with it.
#
# What it gives you, honestly: the real install (CRDs, RBAC per component, the controller with leader
# election, the agent DaemonSet, the admission webhook with self-managed certificates) on a real cluster
# with real Pods and Services. What it cannot give you: kind nodes are containers on your machine, with no
# TDX/SEV-SNP and no H100 in CC mode, so every ConfidentialHost is reported and *refused* (that is the
# point of step 1), and ConfidentialVMs stay in Scheduling. For the whole three-step flow without
# hardware, use `make demo` (simulated TEE and GPUs, signed by a test CA that only the demo trusts).
#
# Not run in CI (CI has no Docker engine). Usage:
#   hack/kind-up.sh            create (or reuse) the cluster and install
#   hack/kind-up.sh down       delete the cluster
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

cluster="${KIND_CLUSTER_NAME:-trustgate}"
# A released KubeVirt close to the schema pin in hack/kubevirt (main, v1.10 development line).
kubevirt_version="${KUBEVIRT_VERSION:-v1.6.0}"
image="trustgate:dev"
namespace="trustgate-system"

need() {
  command -v "$1" >/dev/null 2>&1 || {
    echo "kind-up: needs $1 on PATH ($2)" >&2
    exit 2
  }
}
need docker "https://docs.docker.com/engine/install/"
need kind "go install sigs.k8s.io/kind@latest"
need kubectl "or use the one make tools builds: \$(bash hack/build-tools.sh all)/kubectl"
need helm "or use the one make tools builds: \$(bash hack/build-tools.sh all)/helm"

if [[ "${1:-up}" == "down" ]]; then
  kind delete cluster --name "$cluster"
  exit 0
fi

docker info >/dev/null 2>&1 || {
  echo "kind-up: the Docker engine is not reachable (docker info failed)" >&2
  exit 2
}

if ! kind get clusters | grep -qx "$cluster"; then
  echo "# kind cluster $cluster (one control plane, two workers standing in for GPU hosts)"
  kind create cluster --name "$cluster" --wait 120s --config - <<'EOF'
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
  - role: control-plane
  - role: worker
    labels: { nvidia.com/gpu.present: "true" }
  - role: worker
    labels: { nvidia.com/gpu.present: "true" }
EOF
fi
kubectl config use-context "kind-$cluster" >/dev/null

echo "# KubeVirt $kubevirt_version (software emulation: kind nodes have no /dev/kvm to rely on)"
kubectl apply -f "https://github.com/kubevirt/kubevirt/releases/download/$kubevirt_version/kubevirt-operator.yaml"
kubectl apply -f "https://github.com/kubevirt/kubevirt/releases/download/$kubevirt_version/kubevirt-cr.yaml"
kubectl -n kubevirt patch kubevirt kubevirt --type merge \
  -p '{"spec":{"configuration":{"developerConfiguration":{"useEmulation":true}}}}'
kubectl -n kubevirt wait kubevirt/kubevirt --for condition=Available --timeout=10m

echo "# The trustgate image from the Dockerfile (the same npm ci / make build steps the tests run)"
docker build -t "$image" .
kind load docker-image "$image" --name "$cluster"

echo "# helm install trustgate (chart defaults; the image just loaded, never pulled)"
helm upgrade --install trustgate charts/trustgate \
  --namespace "$namespace" --create-namespace \
  --set image.repository=trustgate --set image.tag=dev --set image.pullPolicy=Never \
  --wait --timeout 5m

kubectl -n "$namespace" get deploy,ds,svc,pdb
kubectl get validatingwebhookconfigurations,validatingadmissionpolicies | grep trustgate || true
echo
echo "# Hosts as the agents see them (expected: refused, no TEE in a kind node)"
sleep 20
kubectl get chost -o wide || true
cat <<EOF

Next:
  kubectl apply -f crds/samples/attestationpolicy-production.yaml
  kubectl apply -f crds/samples/confidentialvm-tdx-h100.yaml   # stays Scheduling: no validated host
  A Pod labelled trustgate.io/requires-attested-vm=<cvm> is refused by the webhook until that CVM is Attested.
Tear down: hack/kind-up.sh down
EOF
