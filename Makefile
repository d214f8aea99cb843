# Mission Control — developer entry points. `make help` lists them.
#
#   make dev    local control plane + PostgreSQL (unless KUBECONFIG / DATABASE_URL reach real
#               ones), CRDs installed, migrations applied; keeps running until Ctrl-C.
#               MC_DEV_OLLAMA=1 adds a local Ollama serving a scripted example model
#   make test   installs what is missing, builds the control plane and Ollama if needed, then
#               lint, type checks, import contracts and every test
#   make lock   re-resolves the pinned, hashed dependency locks from pyproject.toml
#
# Installs come from the locks (requirements.lock for the image, requirements-dev.lock for
# development and CI): exact versions with hashes, so every machine gets the SDKs the adapters
# were tested against. pyproject.toml keeps lower bounds for people installing the package.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTEST_ARGS ?=
# Test modules run on this many processes (pytest-xdist; a module stays on one): most tests wait
# on servers rather than compute, so two workers halve the time on two cores.
PYTEST_WORKERS ?= 2

.DEFAULT_GOAL := help
.PHONY: help install system-deps lock dev test lint fmt typecheck imports pytest controlplane ollama helm builds crds bench clean e2e-kind least-privilege chaos
LOCK_FLAGS := --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-find-links \
	--build-deps-for wheel --build-deps-for editable

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

# Order-only: a fresh Debian lacks python3-venv, without which `python3 -m venv` fails.
# The locked dependencies first (hash-checked), then the project itself without resolving again;
# no build isolation, so the build backend is the locked setuptools too.
$(STAMP): pyproject.toml requirements-dev.lock | system-deps
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

system-deps: ## install python3-venv, PostgreSQL, Prometheus, Ollama's build needs, Chromium from Debian
	@missing=""; \
	$(PYTHON) -c 'import ensurepip' >/dev/null 2>&1 || missing="$$missing python3-venv"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v prometheus >/dev/null || missing="$$missing prometheus"; \
	command -v gcc >/dev/null || missing="$$missing gcc"; \
	command -v g++ >/dev/null || missing="$$missing g++"; \
	[ -f /usr/include/nlohmann/json.hpp ] || missing="$$missing nlohmann-json3-dev"; \
	[ -f /usr/include/stb/stb_image.h ] || missing="$$missing libstb-dev"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

install: $(STAMP) system-deps ## Python deps into .venv, the Debian packages above

lock: $(STAMP) ## re-resolve requirements.lock and requirements-dev.lock (needs network)
	$(BIN)/pip-compile $(LOCK_FLAGS) --upgrade --output-file requirements.lock pyproject.toml
	$(BIN)/pip-compile $(LOCK_FLAGS) --upgrade --extra dev --output-file requirements-dev.lock \
		pyproject.toml

controlplane: ## build etcd, kube-apiserver, kube-controller-manager, kubectl (cached)
	@bash tests/controlplane/build.sh >/dev/null

helm: ## build helm from the Go module proxy for the chart tests (cached)
	@bash tests/helm/build.sh >/dev/null

ollama: system-deps ## build the Ollama server the tests use (cached; minutes when cold)
	@bash tests/ollama/build.sh >/dev/null

# The three Go builds at once: when cold, one's module downloads overlap another's compiles.
builds: system-deps ## build the control plane, Ollama and helm together (each cached)
	@pids=""; \
	for script in tests/controlplane/build.sh tests/ollama/build.sh tests/helm/build.sh; do \
		bash $$script >/dev/null & pids="$$pids $$!"; \
	done; \
	failed=0; for pid in $$pids; do wait $$pid || failed=1; done; \
	if [ $$failed = 1 ]; then echo "a build failed (its error is above)" >&2; exit 1; fi

crds: $(STAMP) ## regenerate crds/*.yaml from operator/mission_control/resources/crds.py
	$(BIN)/python -m mission_control.resources.crds crds
	@# The chart: CRDs in crds/, the admission policies in admission/ (rendered by a template)
	for f in crds/*.yaml; do \
		if grep -q '^kind: CustomResourceDefinition$$' "$$f"; then cp "$$f" helm/mission-control/crds/; \
		else cp "$$f" helm/mission-control/admission/; fi; \
	done
	@# kopf's peering CRDs (replicaCount > 1), not generated
	cp crds/peering/*.yaml helm/mission-control/crds/

dev: install controlplane $(if $(filter 1,$(MC_DEV_OLLAMA)),ollama) ## run the local environment (see the top of this file)
	$(BIN)/python -m tests.devenv

lint: $(STAMP) ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: $(STAMP) ## format and autofix
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: $(STAMP) ## mypy --strict on the package
	$(BIN)/mypy

imports: $(STAMP) ## import-linter layer contracts
	$(BIN)/lint-imports

pytest: $(STAMP) ## only the tests (PYTEST_ARGS="-m 'not controlplane'" to narrow; PYTEST_WORKERS=1 for one process)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

test: install builds lint typecheck imports pytest ## everything CI runs

least-privilege: install controlplane ollama helm ## remove each RBAC rule of the chart in turn; some e2e scenario must fail (minutes)
	$(BIN)/python -m tests.deploy.least_privilege

chaos: install controlplane ollama ## the chaos test with a random seed, 30 runs, 10 SIGKILLs (MC_CHAOS_SEED=N replays one)
	MC_CHAOS_SEED=$${MC_CHAOS_SEED:-$$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')} \
	MC_CHAOS_RUNS=$${MC_CHAOS_RUNS:-30} MC_CHAOS_KILLS=$${MC_CHAOS_KILLS:-10} \
	$(BIN)/pytest -s -p no:cacheprovider tests/e2e/test_chaos.py

e2e-kind: install ## kind cluster, image, chart, e2e suite (needs Docker; see the README)
	bash tests/kind/e2e.sh

bench: install controlplane ollama ## benchmarks: journal, sidecar streams, control-plane start-up, Ollama, the operator
	$(BIN)/python -m bench.journal
	$(BIN)/python -m bench.sidecar
	$(BIN)/python -m bench.controlplane
	$(BIN)/python -m bench.ollama
	$(BIN)/python -m bench.operator

clean: ## remove the virtualenv and caches (not the control-plane and Ollama binaries)
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .dev
