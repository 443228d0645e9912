# Every target sets up its own virtualenv from hash-locked requirements (uv pip compile, Python 3.11):
#   requirements.lock           dev: the project, the openai extra and the dev extra (make venv, make test)
#   requirements/runtime.lock   the project's dependencies only: what the product needs to run
#   requirements/openai.lock    what the openai extra adds on top of runtime.lock
#   requirements/local-cloud.lock  what the local-cloud extra (moto's server) adds on top of runtime.lock
#   requirements/build.lock     the build backend (setuptools) that builds the tfpilot wheel
# make lock resolves runtime.lock first and the others constrained to it, so all agree.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
# make serve and make demo run from a runtime-only virtualenv: runtime + the openai extra (as the
# image) + the local-cloud extra (moto's server, the embedded default's local AWS API).
RUNTIME_VENV := .venv-runtime
RUNTIME_LOCKS := requirements/runtime.lock requirements/openai.lock requirements/local-cloud.lock requirements/build.lock
RUNTIME_STAMP := $(RUNTIME_VENV)/.installed-$(shell cat $(RUNTIME_LOCKS) | cksum | cut -d' ' -f1)
RUNTIME_SOURCES := pyproject.toml README.md $(shell find bot assistant core module_registry -type f \
	-not -name '*.pyc' -not -path '*/__pycache__/*' 2>/dev/null)
INSTALL_RUNTIME := PYTHON=$(PYTHON) sh deploy/install-runtime.sh
PYTEST_ARGS ?=
# Kubernetes release whose JSON schemas (shipped by kubernetes-validate) the manifests are checked against.
K8S_VERSION ?= 1.33.0

.PHONY: venv runtime-venv test lint lint-workflows typecheck layers unit deploy-lint demo serve runtime-check bench lock clean

venv: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else \
		"TfPilot needs Python >= 3.11 (found " + sys.version.split()[0] + "): run make PYTHON=python3.11 ...")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@rm -f $(VENV)/.installed-*
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

# Dependencies are reinstalled when a lock changes; the project (a wheel, not editable) when a source does.
runtime-venv: $(RUNTIME_VENV)/.project

$(RUNTIME_STAMP): $(RUNTIME_LOCKS)
	@rm -f $(RUNTIME_VENV)/.installed-* $(RUNTIME_VENV)/.project
	$(INSTALL_RUNTIME) deps $(RUNTIME_VENV) --with-openai --with-local-cloud
	@touch $@

$(RUNTIME_VENV)/.project: $(RUNTIME_STAMP) $(RUNTIME_SOURCES)
	$(INSTALL_RUNTIME) project $(RUNTIME_VENV)
	@touch $@

lint: venv lint-workflows
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The infra repo scaffold as a user gets it: actionlint on its workflows, zizmor (offline, no
# GitHub token) on the workflows and dependabot.yml. tests/scaffold/test_workflow_lint.py names
# each finding of the same checks.
lint-workflows: venv
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(BIN)/tfpilot scaffold infra-repo "$$tmp/infra" --projects-file module_registry/data/projects.example.yaml \
		--project core --tfpilot-url https://tfpilot.example.com --json > /dev/null && \
	$(BIN)/actionlint "$$tmp"/infra/.github/workflows/*.yml && \
	env -u GH_TOKEN -u GITHUB_TOKEN -u ZIZMOR_GITHUB_TOKEN $(BIN)/zizmor --offline --no-config --no-progress \
		--strict-collection --persona=pedantic "$$tmp/infra" && \
	echo "lint-workflows: actionlint and zizmor clean"

typecheck: venv
	$(BIN)/mypy core module_registry assistant bot

layers: venv
	$(BIN)/lint-imports

# worksteal: an idle worker takes queued tests from a busy one, so the slow real-Terraform tests
# (minutes each) do not hold back the tests queued behind them on the same worker. Two workers
# per core: a real-Terraform test spends about half its time waiting (the AWS provider polls
# between its calls to the local cloud), and a second worker per core runs meanwhile
# (tests/conftest.py spreads the slow tests over the workers' first shares).
PYTEST_WORKERS ?= $(shell echo $$(( $$(nproc 2>/dev/null || echo 1) * 2 )))
unit: venv
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

# The Dockerfile, the Kubernetes manifests and the compose file, offline (no Docker engine needed).
deploy-lint: venv
	$(BIN)/hadolint Dockerfile
	$(BIN)/kubernetes-validate --strict --quiet --kubernetes-version $(K8S_VERSION) deploy/kubernetes/*.yaml
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec deploy/docker-compose.yml

test: lint typecheck layers deploy-lint unit

# The AWS provider mirror these machines carry: with it `make demo` runs Terraform for real
# against the local cloud; without it the demo previews and says so.
TF_PLUGIN_MIRROR := $(firstword $(wildcard /opt/tf-plugins))

# The runtime lock alone (no dev tools, no openai extra) gives a working product: a fresh
# virtualenv runs the demo and serves /api/health and /api/ready.
runtime-check:
	@rm -rf $(RUNTIME_VENV)-check
	$(INSTALL_RUNTIME) deps $(RUNTIME_VENV)-check
	$(INSTALL_RUNTIME) project $(RUNTIME_VENV)-check
	$(RUNTIME_VENV)-check/bin/python .ci/runtime_check.py
	@rm -rf $(RUNTIME_VENV)-check

demo: runtime-venv
	TFPILOT_TERRAFORM_PLUGIN_DIR="$${TFPILOT_TERRAFORM_PLUGIN_DIR:-$(TF_PLUGIN_MIRROR)}" $(RUNTIME_VENV)/bin/tfpilot demo

serve: runtime-venv
	$(RUNTIME_VENV)/bin/tfpilot serve

bench: venv
	$(BIN)/python -m bench

# Re-resolve the locks (needs uv, installed into the dev venv on demand). Existing pins are kept
# unless pyproject.toml needs others (uv prefers the versions already in the output file).
UV_COMPILE = $(BIN)/uv pip compile --python-version 3.11 --generate-hashes --quiet --custom-compile-command 'make lock'
lock: venv
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(UV_COMPILE) pyproject.toml -o requirements/runtime.lock
	$(UV_COMPILE) pyproject.toml --extra openai -c requirements/runtime.lock -o requirements/openai.lock \
		$$(sed -n 's/^\([A-Za-z0-9._-]*\)==.*/--no-emit-package \1/p' requirements/runtime.lock)
	$(UV_COMPILE) pyproject.toml --extra local-cloud -c requirements/runtime.lock -o requirements/local-cloud.lock \
		$$(sed -n 's/^\([A-Za-z0-9._-]*\)==.*/--no-emit-package \1/p' requirements/runtime.lock)
	$(UV_COMPILE) pyproject.toml --extra openai --extra local-cloud --extra dev -c requirements/runtime.lock \
		-c requirements/openai.lock -c requirements/local-cloud.lock -o requirements.lock
	echo 'setuptools>=69' | $(UV_COMPILE) - -o requirements/build.lock

clean:
	rm -rf $(VENV) $(RUNTIME_VENV) $(RUNTIME_VENV)-check .mypy_cache .ruff_cache .pytest_cache
