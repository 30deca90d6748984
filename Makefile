# storage-operator: the two set-up commands are `make lab` and `make test`; everything else is a step of them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

# ---------------------------------------------------------------- set-up steps
.PHONY: packages
packages: ## install the Debian packages the lab needs (only what is missing)
	hack/install-packages.sh

.PHONY: binaries
binaries: ## build the pinned etcd/Kubernetes/csi-sanity binaries into the cache (skips what is cached)
	hack/build-binaries.sh

.PHONY: image
image: ## build the project's image (hack/build-image.sh: buildah, no Docker or registry; cached by content)
	hack/build-image.sh storage-operator

.PHONY: venv
venv: $(STAMP) ## the project's virtualenv with dev tools and Debian's Ceph bindings linked in

$(STAMP): pyproject.toml hack/link-ceph-bindings.sh
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install CPython 3.11 (Debian's Ceph bindings are built for it)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	hack/link-ceph-bindings.sh $(VENV)
	touch $@

.PHONY: deps
deps: packages binaries venv

# ---------------------------------------------------------------- the two commands
.PHONY: lab
lab: deps ## bring up the local lab (control plane, a real kubelet node with the project's pods, Ceph, NFS, loop disks) and show it
	$(PY) -m storage_operator lab up

.PHONY: lab-down
lab-down: ## stop everything the lab started (by PID), detach its loop devices, keep its logs
	@if [ -x $(PY) ]; then $(PY) -m storage_operator lab down; else echo "no virtualenv: no lab was started from this checkout"; fi

.PHONY: lab-status
lab-status: ## show the running lab
	$(PY) -m storage_operator lab status

.PHONY: test
test: deps verify ## every check and every test (unit, integration, e2e)
	$(PY) -m pytest

# ---------------------------------------------------------------- pieces of `make test`
.PHONY: verify
verify: venv ## ruff, mypy --strict, import-linter layer contracts, generated files up to date
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	hack/verify-generated.sh

.PHONY: generate
generate: venv ## regenerate committed generated files (CRDs from the models, CSI stubs, snapshot CRDs)
	$(PY) hack/gen-crds.py
	hack/gen-csi-proto.sh
	hack/fetch-snapshot-crds.sh
	$(PY) hack/lock-image-requirements.py

.PHONY: unit
unit: venv ## only the fast unit tests
	$(PY) -m pytest -m unit

.PHONY: fmt
fmt: venv ## format and auto-fix
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

.PHONY: bench
bench: deps ## benchmarks: print a table and write JSON under bench/results/
	$(PY) -m bench

.PHONY: clean
clean: lab-down ## remove the virtualenv and lab directories (not the binary cache)
	rm -rf $(VENV) .lab .lab-test .pytest_cache .mypy_cache .ruff_cache
