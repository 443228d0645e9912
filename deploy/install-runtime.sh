#!/bin/sh
# Install TfPilot into a virtualenv from the hash-locked runtime requirements only (no dev tools).
# The Dockerfile's builder stage, `make serve`/`make demo` and `make runtime-check` all use this
# script, so the image installs exactly what `make runtime-check` tests on this machine.
#
#   install-runtime.sh deps VENV [--with-openai] [--with-local-cloud]
#                                                  create VENV, install requirements/runtime.lock (and
#                                                  the extras' locks), hashes required
#   install-runtime.sh project VENV                build the tfpilot wheel and install it (no deps)
#
# The wheel is built from a copy of the packaged files only, with the hash-locked setuptools of
# requirements/build.lock in a throwaway virtualenv: nothing unhashed is downloaded and the build
# backend never lands in VENV. PYTHON picks the interpreter (default python3, >= 3.11).
set -eu

usage() {
	echo "usage: $0 deps VENV [--with-openai] [--with-local-cloud] | project VENV" >&2
	exit 2
}

[ $# -ge 2 ] || usage
step=$1
venv=$2
python=${PYTHON:-python3}
src=$(cd "$(dirname "$0")/.." && pwd)

case $step in
deps)
	locks="-r $src/requirements/runtime.lock"
	shift 2
	for extra in "$@"; do
		case $extra in
		--with-openai) locks="$locks -r $src/requirements/openai.lock" ;;
		--with-local-cloud) locks="$locks -r $src/requirements/local-cloud.lock" ;;
		*) usage ;;
		esac
	done
	"$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "TfPilot needs Python >= 3.11")'
	"$python" -m venv "$venv"
	# shellcheck disable=SC2086 # $locks is a list of -r options
	"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input --require-hashes $locks
	;;
project)
	[ $# -eq 2 ] || usage
	[ -x "$venv/bin/python" ] || {
		echo "$0: $venv has no python: run '$0 deps $venv' first" >&2
		exit 2
	}
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	mkdir "$work/src"
	# What setuptools packages (pyproject.toml: packages.find, package-data); caches left out.
	tar -C "$src" --exclude=__pycache__ --exclude='*.pyc' -cf - pyproject.toml README.md \
		bot assistant core module_registry | tar -C "$work/src" -xf -
	"$python" -m venv "$work/build"
	"$work/build/bin/python" -m pip install --quiet --disable-pip-version-check --no-input --require-hashes \
		-r "$src/requirements/build.lock"
	"$work/build/bin/python" -m pip wheel --quiet --disable-pip-version-check --no-input --no-deps \
		--no-build-isolation -w "$work/wheel" "$work/src"
	"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input --no-deps \
		--force-reinstall "$work"/wheel/tfpilot-*.whl
	;;
*) usage ;;
esac
