# Every target bootstraps what it needs: `make test` works on a fresh clone with Python 3.11+.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TOOLS  := .venv-tools
SAM    := SAM_CLI_TELEMETRY=0 $(TOOLS)/bin/sam
SAM_CLI_VERSION ?= 1.170.0
CFN_LINT_VERSION ?= 1.58.0
CFN_LINT_SERVERLESS_VERSION ?= 0.3.6
CHECKOV_VERSION ?= 3.2.459
PIP_AUDIT_VERSION ?= 2.10.1
PARLIAMENT_VERSION ?= 1.6.4
DETECT_SECRETS_VERSION ?= 1.5.0
SCAN   := .venv-scan
# The locks, with a hash for every file: the development set's for any Python 3.11+, the
# layer's for the Lambda runtime (Python 3.13, arm64).
DEV_LOCK   := requirements-dev.lock
LAYER_LOCK := layers/autotag/requirements.lock
# The runtime's Python, if this machine has it (on PATH, or installed by pyenv), compiles the
# bytecode `make build` ships.
PY313  ?= $(firstword $(wildcard $(shell pyenv root 2>/dev/null)/versions/3.13*/bin/python3.13) \
  python3.13)
ROOT   := $(dir $(abspath $(lastword $(MAKEFILE_LIST))))
MAKEFLAGS += --no-print-directory

.PHONY: install tools lock lint test build demo scan bench clean

# The development set from its lock, every file checked against its hash; then the project
# itself, built by the locked setuptools.
$(BIN)/.installed: $(DEV_LOCK) pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(DEV_LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

install: $(BIN)/.installed

# The locks from the declared ranges (pyproject.toml, layers/autotag/requirements.txt). Versions
# already locked are kept while the ranges allow them; `make lock UPGRADE=1` takes the newest.
UV := $(BIN)/uv pip compile --quiet --generate-hashes --custom-compile-command 'make lock' \
  $(if $(UPGRADE),--upgrade)
lock: install
	$(UV) --universal --python-version 3.11 --fork-strategy fewest --extra dev pyproject.toml \
	  -o $(DEV_LOCK)
	$(UV) --python-version 3.13 --python-platform aarch64-manylinux2014 \
	  layers/autotag/requirements.txt -o $(LAYER_LOCK)

# aws-sam-cli pins its own boto3 and cfn-lint: it lives apart from the project's .venv.
$(TOOLS)/.installed: Makefile
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --upgrade pip
	$(TOOLS)/bin/python -m pip install --quiet 'aws-sam-cli==$(SAM_CLI_VERSION)' \
	  'cfn-lint==$(CFN_LINT_VERSION)' 'cfn-lint-serverless==$(CFN_LINT_SERVERLESS_VERSION)'
	touch $@

tools: $(TOOLS)/.installed

lint: install tools
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(TOOLS)/bin/cfn-lint template.yaml
	$(SAM) validate --lint

# Two workers, one test file each: the emulator runs in every worker.
test: lint build
	$(BIN)/pytest -n 2 --dist loadfile

# sam build runs the build-* targets below (BuildMethod: makefile); the result lands in
# .aws-sam/build. It needs no Python 3.13: the layer's wheels come from PyPI for the runtime.
build: tools
	$(SAM) build

# Lambda cannot write bytecode at run time: shipped without it, every cold start compiles.
# Bytecode is the runtime's own, so only Python 3.13 makes it (`make build PY313=/path/to/it`).
compile = @if $(PY313) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null; \
  then $(PY313) -m compileall -q --invalidation-mode unchecked-hash $(1); \
  else echo 'no Python 3.13 at PY313=$(PY313): shipped without bytecode:' $(1); fi

# Run by sam build in a copy of the resource's code folder, with ARTIFACTS_DIR.
build-AutoTagLayer:
	$(ROOT)$(TOOLS)/bin/python -m pip install --quiet --require-hashes -r requirements.lock \
	  --only-binary=:all: --platform manylinux2014_aarch64 --python-version 3.13 \
	  --implementation cp --no-compile --target "$(ARTIFACTS_DIR)/python"
	cp -R autotag "$(ARTIFACTS_DIR)/python/"
	find "$(ARTIFACTS_DIR)/python/autotag" -name __pycache__ -prune -exec rm -rf {} +
	$(call compile,"$(ARTIFACTS_DIR)/python/autotag")

build-TagOnCreateFunction build-NotifyDigestFunction build-SweepFunction build-ShowbackFunction:
	cp app.py "$(ARTIFACTS_DIR)/"
	$(call compile,"$(ARTIFACTS_DIR)")

# Each scanner in an environment of its own: checkov pins an old boto3 and brings its own fork
# of detect-secrets; parliament still imports pkg_resources (setuptools before 81).
SCANNERS := checkov pip-audit parliament detect-secrets
checkov_PACKAGES := 'checkov==$(CHECKOV_VERSION)'
pip-audit_PACKAGES := 'pip-audit==$(PIP_AUDIT_VERSION)'
parliament_PACKAGES := 'parliament==$(PARLIAMENT_VERSION)' 'setuptools<81'
detect-secrets_PACKAGES := 'detect-secrets==$(DETECT_SECRETS_VERSION)'

$(SCAN)/%/.installed: Makefile
	$(PYTHON) -m venv $(SCAN)/$*
	$(SCAN)/$*/bin/python -m pip install --quiet --upgrade pip
	$(SCAN)/$*/bin/python -m pip install --quiet $($*_PACKAGES)
	touch $@

# Static security checks. checkov reads SAM's inline policies only after translation, so it
# scans the translated template, and so does parliament (IAM policies); cfn-lint runs with the
# serverless rules on the SAM source. pip-audit checks both locks against PyPI's vulnerability
# records; detect-secrets checks every file git sees (tracked or not ignored) against the
# baseline. Every skip and accepted finding carries its reason: docs/SECURITY.md.
scan: tools $(SCANNERS:%=$(SCAN)/%/.installed)
	$(TOOLS)/bin/python tools/sam_translate.py template.yaml build/template.cfn.json
	$(TOOLS)/bin/cfn-lint template.yaml -a cfn_lint_serverless.rules
	$(SCAN)/checkov/bin/checkov -f build/template.cfn.json --framework cloudformation \
	  --quiet --compact --skip-download
	$(SCAN)/parliament/bin/python tools/iam_lint.py build/template.cfn.json
	for lock in $(DEV_LOCK) $(LAYER_LOCK); do \
	  $(SCAN)/pip-audit/bin/python tools/audit_locks.py --vulnerability-service pypi \
	    --require-hashes --disable-pip --progress-spinner off -r $$lock || exit 1; \
	done
	git ls-files -z --cached --others --exclude-standard | \
	  xargs -0 $(SCAN)/detect-secrets/bin/detect-secrets-hook --baseline .secrets.baseline

# Speed, calls, cold start, bursts and cost against the local emulator: build/bench.json.
bench: install
	$(BIN)/python -m local.bench

# A morning in an ML team, against the local emulator: no AWS account needed.
demo: install
	$(BIN)/python -m local.demo

clean:
	rm -rf .aws-sam build .pytest_cache .mypy_cache .ruff_cache
