# Every target sets up its own virtualenv from the hash-locked requirements.lock.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
PYTEST_ARGS ?=

.PHONY: venv test lint typecheck layers unit demo serve bench lock clean

venv: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else \
		"TfPilot needs Python >= 3.11 (found " + sys.version.split()[0] + "): run make PYTHON=python3.11 ...")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@rm -f $(VENV)/.installed-*
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy core module_registry assistant bot

layers: venv
	$(BIN)/lint-imports

# worksteal: an idle worker takes queued tests from a busy one, so the slow real-Terraform tests
# (minutes each) do not hold back the tests queued behind them on the same worker.
unit: venv
	$(BIN)/pytest -n 2 --dist worksteal $(PYTEST_ARGS)

test: lint typecheck layers unit

# The AWS provider mirror these machines carry: with it `make demo` runs Terraform for real
# against the local cloud; without it the demo previews and says so.
TF_PLUGIN_MIRROR := $(firstword $(wildcard /opt/tf-plugins))

demo: venv
	TFPILOT_TERRAFORM_PLUGIN_DIR="$${TFPILOT_TERRAFORM_PLUGIN_DIR:-$(TF_PLUGIN_MIRROR)}" $(BIN)/tfpilot demo

serve: venv
	$(BIN)/tfpilot serve

bench: venv
	$(BIN)/python -m bench

# Re-resolve the lock (needs uv, installed into the venv on demand).
lock: venv
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o requirements.lock

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
