# trustgate: make test (lint + unit + integration on a real local control plane), make demo.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

NODE_BIN := $(CURDIR)/.tools/node/node_modules/.bin
export PATH := $(NODE_BIN):$(CURDIR)/node_modules/.bin:$(PATH)
export TRUSTGATE_CLUSTER_DIR ?= $(CURDIR)/.cache/cluster

.PHONY: help setup tools build gen verify-gen typecheck lint test test-unit test-integration test-e2e \
	cluster-up cluster-down demo evidence-bundles sim-pki bench bench-peers clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

setup: ## Install the project's Node 24 and npm packages
	@bash hack/setup-node.sh

tools: ## Build (or reuse cached) kube-apiserver, etcd, kubectl, helm, kubeconform
	@bash hack/build-tools.sh all >/dev/null

build: setup ## Compile the trustgate executable (./bin/trustgate)
	@tsc -p tsconfig.build.json
	@echo "built: ./bin/trustgate"

gen: setup ## Regenerate TypeScript types from crds/ and KubeVirt's OpenAPI spec
	@node hack/gen-types.ts

verify-gen: setup ## Fail when generated types are stale
	@node hack/gen-types.ts --check

typecheck: setup
	@tsc -p tsconfig.json --noEmit

lint: setup typecheck verify-gen ## Type check, eslint, prettier, CRD field descriptions
	@node hack/crd-descriptions.ts
	@eslint --max-warnings 0 .
	@prettier --check . >/dev/null || { prettier --check .; exit 1; }

test-unit: setup ## Unit tests (no cluster)
	@mocha --config .mocharc.unit.json

test-integration: setup tools build ## Integration tests against a real kube-apiserver + etcd
	@TRUSTGATE_BIN_DIR="$$(bash hack/build-tools.sh all)" mocha --config .mocharc.integration.json

test-e2e: setup tools build ## The whole flow as separate processes on a fresh local control plane
	@TRUSTGATE_BIN_DIR="$$(bash hack/build-tools.sh all)" mocha --config .mocharc.e2e.json

test: setup tools build lint test-unit test-integration test-e2e ## Everything CI runs

cluster-up: setup tools ## Start a local control plane in the background (kubeconfig in .cache/cluster)
	@TRUSTGATE_BIN_DIR="$$(bash hack/build-tools.sh all)" node hack/cluster.ts up

cluster-down: setup ## Stop the local control plane (and the demo's agents, controller, simulator)
	@if [[ -f "$(TRUSTGATE_CLUSTER_DIR)/demo.pids" ]]; then \
		xargs -r kill < "$(TRUSTGATE_CLUSTER_DIR)/demo.pids" 2>/dev/null || true; rm -f "$(TRUSTGATE_CLUSTER_DIR)/demo.pids"; fi
	@node hack/cluster.ts down

demo: setup tools build ## Local control plane + CRDs + samples, then kubectl get chost,atp,cvm
	@TRUSTGATE_BIN_DIR="$$(bash hack/build-tools.sh all)" bash hack/demo.sh

evidence-bundles: setup ## Write every TDX/SNP fixture item as an evidence bundle + index.json to OUT=<dir>
	@test -n "$(OUT)" || { echo "usage: make evidence-bundles OUT=<dir>" >&2; exit 2; }
	@node hack/evidence-bundles.ts "$(OUT)"

sim-pki: setup ## Write a simulated AMD/Intel/NVIDIA PKI for simulated guests to OUT=<dir>
	@test -n "$(OUT)" || { echo "usage: make sim-pki OUT=<dir>" >&2; exit 2; }
	@node hack/sim-pki.ts "$(OUT)"

bench: setup ## Run one benchmark: make bench BENCH=<name of bench/<name>.ts> (some need make build first)
	@test -f "bench/$(BENCH).ts" || { echo "usage: make bench BENCH=<$$(cd bench && ls *.ts | sed 's/\.ts$$//' | paste -sd '|')>" >&2; exit 2; }
	@node "bench/$(BENCH).ts"

bench-peers: setup ## trustgate vs go-tdx-guest, go-sev-guest, nv-local-gpu-verifier (needs go, python3; not in make test)
	@peers="$$(bash bench/peers/build.sh go)" && venv="$$(bash bench/peers/build.sh python)" && \
		node bench/peers/run.ts --peers "$$peers" --venv "$$venv" $(PEERS_ARGS)

clean: cluster-down
	rm -rf dist .cache
