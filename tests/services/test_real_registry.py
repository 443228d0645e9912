"""RequestService over the real module registry, projects map and renderer (no fakes there)."""

from __future__ import annotations

import pytest

from core.services.requests import RequestService
from module_registry import catalogue, projects
from module_registry.errors import ConfigRejected
from tests.graph import build_graph
from tests.services.conftest import POLICY, World, create_cmd, ports_of


@pytest.fixture
def real(world: World) -> RequestService:
    """The world's ports, with the real registry, projects map and renderer."""
    graph = build_graph(
        **ports_of(world.deps), registry=catalogue.load_registry(), projects=projects.load_projects(), policy=POLICY
    )
    return graph.requests


def test_create_commits_the_registry_rendering(world: World, real: RequestService) -> None:
    cmd = create_cmd(config={"name": "logs"})
    files = real.preview(cmd)
    request = real.create(cmd)
    ((path, content),) = files.items()
    assert path == f"envs/dev/tfpilot_{request.id}.tf" and request.target_files == [path]
    assert content.startswith(f"# tfpilot:begin {request.id}") and content.rstrip().endswith(
        f"# tfpilot:end {request.id}"
    )
    tree = world.host.tree(_repo(request), request.branch_name)
    assert tree[path] == content
    assert (request.target_owner, request.target_repo, request.target_base) == ("acme", "core-infra", "main")
    assert request.config["versioning"] is True  # defaults applied by the registry


def test_registry_refusals_surface_as_config_rejected(world: World, real: RequestService) -> None:
    with pytest.raises(ConfigRejected) as err:
        real.create(create_cmd(config={"name": "Bad Name!"}))
    assert any(e.field == "name" for e in err.value.errors)
    assert world.host.total() == 0


def _repo(request):
    from core.ports.code_host import RepoRef

    return RepoRef(owner=request.target_owner, name=request.target_repo)
