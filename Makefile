# Every target bootstraps what it needs: `make test` works on a fresh clone with Python 3.11+.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TOOLS  := .venv-tools
# sam build needs the runtime's Python (python3.13) on PATH; pyenv provides it here.
PY313  ?= $(shell pyenv root 2>/dev/null)/versions/3.13.0/bin
SAM    := SAM_CLI_TELEMETRY=0 $(TOOLS)/bin/sam
SAM_CLI_VERSION ?= 1.170.0
CFN_LINT_VERSION ?= 1.58.0
CFN_LINT_SERVERLESS_VERSION ?= 0.3.6
CHECKOV_VERSION ?= 3.2.459
SCAN   := .venv-scan

.PHONY: install tools lint test build demo scan bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

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

# sam build fetches the layer's arm64 wheels from PyPI; the result lands in .aws-sam/build.
build: tools
	PATH="$(PY313):$$PATH" $(SAM) build
	# Lambda cannot write bytecode at run time: ship it compiled, or every cold start compiles.
	PATH="$(PY313):$$PATH" python3.13 -m compileall -q --invalidation-mode unchecked-hash \
	  .aws-sam/build/AutoTagLayer/python/autotag .aws-sam/build/TagOnCreateFunction \
	  .aws-sam/build/NotifyDigestFunction

# checkov pins an old boto3: it gets an environment of its own.
$(SCAN)/.installed: Makefile
	$(PYTHON) -m venv $(SCAN)
	$(SCAN)/bin/python -m pip install --quiet --upgrade pip
	$(SCAN)/bin/python -m pip install --quiet 'checkov==$(CHECKOV_VERSION)'
	touch $@

# Static security checks. checkov reads SAM's inline policies only after translation, so it
# scans the translated template; cfn-lint runs with the serverless rules on the SAM source.
# Every skip carries its reason in the template's Metadata.
scan: tools $(SCAN)/.installed
	$(TOOLS)/bin/python tools/sam_translate.py template.yaml build/template.cfn.json
	$(TOOLS)/bin/cfn-lint template.yaml -a cfn_lint_serverless.rules
	$(SCAN)/bin/checkov -f build/template.cfn.json --framework cloudformation \
	  --quiet --compact --skip-download

# Speed, calls, cold start, bursts and cost against the local emulator: build/bench.json.
bench: install
	$(BIN)/python -m local.bench

# A morning in an ML team, against the local emulator: no AWS account needed.
demo: install
	$(BIN)/python -m local.demo

clean:
	rm -rf .aws-sam build .pytest_cache .mypy_cache .ruff_cache
