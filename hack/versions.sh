# Pinned versions of the local control plane and tools (see README "Local control plane").
K8S_VERSION=v1.36.3
ETCD_VERSION=v3.6.16
HELM_VERSION=v3.22.0
KUBECONFORM_VERSION=v0.7.0
NODE_VERSION=24.21.0
