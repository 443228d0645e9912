"""The pinned terraform-aws-modules releases accept what we render, checked for real and offline.

For every built-in module and environment, the module's source at the pinned version is taken
from a local git snapshot, the example request is rendered with ``source`` pointing at that
copy (and no ``version``, which a local path does not take), beside the scaffold's
``providers.tf``, and ``terraform init -plugin-dir`` + ``terraform validate`` must succeed.

Third-party module code is never part of this repository, so the test needs, and otherwise
skips naming what is missing:

- ``TFPILOT_TEST_MODULE_MIRROR``: a directory of git snapshots named ``<owner>+<repo>`` (bare
  or with a ``repo`` git directory inside), e.g. ``terraform-aws-modules+terraform-aws-sqs``;
- ``TFPILOT_TEST_TF_PLUGIN_DIR`` (default ``/opt/tf-plugins``): a provider mirror holding the
  providers the modules need (a module needing one the mirror lacks, such as rds with
  ``hashicorp/random``, is skipped with that reason);
- ``terraform`` on the PATH.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import tarfile
from pathlib import Path

import pytest

from core.scaffold.generator import ScaffoldOptions, scaffold_files
from module_registry import render
from module_registry.catalogue import Registry
from tests.registry.conftest import terraform_binary
from tests.registry.test_render import CASES, golden_input

MIRROR_ENV = "TFPILOT_TEST_MODULE_MIRROR"
PLUGIN_ENV = "TFPILOT_TEST_TF_PLUGIN_DIR"
_REGISTRY_SOURCE = re.compile(r"^(?P<ns>[a-z0-9-]+)/(?P<name>[a-z0-9-]+)/(?P<provider>[a-z0-9]+)(?://(?P<sub>.+))?$")


def snapshot(mirror: Path, source: str) -> tuple[Path, str]:
    """The git directory of a registry source's repository, and the module's subdirectory."""
    m = _REGISTRY_SOURCE.match(source)
    assert m is not None, f"not a registry source: {source}"
    name = f"{m['ns']}+terraform-{m['provider']}-{m['name']}"
    for candidate in (mirror / name / "repo", mirror / name):
        if (candidate / "HEAD").is_file() or (candidate / ".git").exists():
            return candidate, m["sub"] or ""
    pytest.skip(f"no snapshot of {m['ns']}/terraform-{m['provider']}-{m['name']} under {mirror}")


def export(git_dir: Path, version: str, into: Path) -> None:
    """The tree of tag ``v<version>`` (examples left out: some hold large binaries a snapshot
    may lack)."""
    archive = subprocess.run(
        ["git", "--git-dir", str(git_dir), "archive", f"v{version}", "--", ".", ":!examples"],
        capture_output=True,
        timeout=120,
        check=False,
    )
    if archive.returncode != 0:
        pytest.skip(f"tag v{version} not in the snapshot {git_dir}: {archive.stderr.decode()[:200]}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")


def local_source(rendered: str, path: Path) -> str:
    """The rendered block with the module's registry source replaced by a local path."""
    text, found = re.subn(r'(?m)^  source(\s+)= "[^"]*"$', f'  source = "{path}"', rendered, count=1)
    assert found == 1, rendered
    return re.sub(r'(?m)^  version\s+= "[^"]*"\n', "", text, count=1)


def terraform(binary: str, args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([binary, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)


@pytest.mark.parametrize(("module_id", "environment"), CASES)
def test_the_pinned_module_validates_what_we_render(
    registry: Registry, module_id: str, environment: str, tmp_path: Path
) -> None:
    mirror = os.environ.get(MIRROR_ENV)
    if not mirror:
        pytest.skip(f"{MIRROR_ENV} is not set: no local snapshots of the modules to validate against")
    plugins = Path(os.environ.get(PLUGIN_ENV) or "/opt/tf-plugins")
    if not plugins.is_dir():
        pytest.skip(f"no provider mirror at {plugins} (set {PLUGIN_ENV})")
    binary = terraform_binary()
    if binary is None:
        pytest.skip("terraform is not installed")
    spec = registry.get(module_id).terraform
    assert spec.source is not None and spec.version is not None
    git_dir, sub = snapshot(Path(mirror), spec.source)
    tree = tmp_path / "module"
    export(git_dir, spec.version, tree)
    root = tmp_path / "root"
    root.mkdir()
    scaffold = scaffold_files(ScaffoldOptions.of(environments=[environment]))
    (root / "providers.tf").write_text(scaffold[f"envs/{environment}/providers.tf"], encoding="utf-8")
    [rendered] = render.render(golden_input(registry, module_id, environment), registry).values()
    (root / "request.tf").write_text(local_source(rendered, tree / sub), encoding="utf-8")
    config = tmp_path / "terraformrc"
    config.write_text("", encoding="utf-8")
    # No network: providers come from the mirror only, and the module is a local path.
    env = {**os.environ, "TF_CLI_CONFIG_FILE": str(config), "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
    init = terraform(
        binary, ["init", "-input=false", "-backend=false", f"-plugin-dir={plugins}", "-no-color"], root, env
    )
    said = " ".join((init.stderr + init.stdout).split())
    if init.returncode != 0 and "was not found in any of the search locations" in said:
        missing = sorted(set(re.findall(r"provider (registry\.terraform\.io/[\w-]+/[\w-]+) was not found", said)))
        pytest.skip(f"{module_id} {spec.version} needs provider(s) the mirror lacks: {', '.join(missing)}")
    assert init.returncode == 0, init.stdout + init.stderr
    validate = terraform(binary, ["validate", "-json", "-no-color"], root, env)
    result = json.loads(validate.stdout)
    assert result["valid"] is True, json.dumps(result["diagnostics"], indent=2)
    assert validate.returncode == 0
