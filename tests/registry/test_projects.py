"""The projects map: the shipped example, inheritance and defaults, formats, and refusals that
name the file and the JSON pointer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from module_registry import projects
from module_registry.catalogue import Registry
from module_registry.errors import RegistryError, UnknownProject
from module_registry.projects import ProjectsMap


def test_shipped_example_is_the_embedded_default(projects_map: ProjectsMap, registry: Registry) -> None:
    assert projects_map.names() == ["core", "payments"]
    assert projects_map.environments("core") == ["dev", "staging", "prod"]
    assert projects_map.environments("payments") == ["dev", "prod"]
    prod = projects_map.target("core", "prod")
    assert (prod.owner, prod.repo, prod.base_branch, prod.env_path, prod.prod) == (
        "acme",
        "core-infra",
        "main",
        "envs/prod",
        True,
    )
    assert prod.owner_team == "platform" and prod.repo_full_name == "acme/core-infra"
    assert projects_map.target("core", "dev").allowed_modules is None  # every module
    assert (
        projects_map.target("payments", "dev").allowed_modules
        == projects_map.target("payments", "prod").allowed_modules
    )
    assert not projects_map.allows("payments", "dev", "ec2-instance")
    assert projects_map.allows("core", "dev", "ec2-instance")
    projects.load_projects(known_modules=registry.ids())  # every allowed module exists


def test_unknown_project_and_environment(projects_map: ProjectsMap) -> None:
    with pytest.raises(UnknownProject, match="unknown project 'nope'; known projects: core, payments"):
        projects_map.target("nope", "dev")
    with pytest.raises(
        UnknownProject, match="project 'payments' has no environment 'staging'; its environments: dev, prod"
    ):
        projects_map.target("payments", "staging")


MINIMAL: dict[str, Any] = {
    "projects": {"web": {"owner": "acme", "repo": "web-infra", "environments": {"dev": None, "production": {}}}}
}


def write(tmp_path: Path, doc: Any, suffix: str = ".yaml") -> Path:
    path = tmp_path / f"projects{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(doc))
    elif suffix == ".toml":
        path.write_text(doc)
    else:
        path.write_text(yaml.safe_dump(doc) if not isinstance(doc, str) else doc)
    return path


def test_defaults_and_inheritance(tmp_path: Path) -> None:
    projs = projects.load_projects(write(tmp_path, MINIMAL))
    dev, production = projs.target("web", "dev"), projs.target("web", "production")
    assert (dev.env_path, dev.prod, dev.base_branch) == ("envs/dev", False, "main")
    assert (production.env_path, production.prod) == ("envs/production", True)


def test_approvals_channel_is_inherited_and_an_environment_overrides_it(tmp_path: Path) -> None:
    doc = {
        "projects": {
            "web": {
                "owner": "acme",
                "repo": "web-infra",
                "approvals_channel": "C0WEBAPPR1",
                "environments": {"dev": {}, "prod": {"approvals_channel": "G0PRODAPP1"}},
            },
            "api": {"owner": "acme", "repo": "api-infra", "environments": {"dev": {}}},
        }
    }
    projs = projects.load_projects(write(tmp_path, doc))
    assert projs.target("web", "dev").approvals_channel == "C0WEBAPPR1"
    assert projs.approvals_channel("web", "prod") == "G0PRODAPP1"
    assert projs.approvals_channel("api", "dev") is None
    # A request whose project left the map has no approvals channel (and no error).
    assert projs.approvals_channel("gone", "dev") is None
    assert projs.to_doc()["web"]["prod"]["approvals_channel"] == "G0PRODAPP1"


def test_json_and_toml_files(tmp_path: Path) -> None:
    assert projects.load_projects(write(tmp_path, MINIMAL, ".json")).names() == ["web"]
    toml = (
        '[projects.web]\nowner = "acme"\nrepo = "web-infra"\n[projects.web.environments.dev]\nenv_path = "live/dev"\n'
    )
    assert projects.load_projects(write(tmp_path, toml, ".toml")).target("web", "dev").env_path == "live/dev"


def env(**values: Any) -> dict[str, Any]:
    return {"projects": {"web": {"owner": "acme", "repo": "web-infra", "environments": {"dev": values}}}}


@pytest.mark.parametrize(
    ("doc", "pointer", "words"),
    [
        ({"projects": {}}, "/projects", "must have at least one entry"),
        ({"version": 1}, "/projects", "is required"),
        (
            {"projects": {"web": {"owner": "acme", "repo": "r", "environments": {}}}},
            "/projects/web/environments",
            "at least one",
        ),
        (
            {"projects": {"Web": {"owner": "acme", "repo": "r", "environments": {"dev": {}}}}},
            "/projects/Web",
            "invalid project",
        ),
        (
            {"projects": {"../web": {"owner": "acme", "repo": "r", "environments": {"dev": {}}}}},
            "/projects/..~1web",
            "path traversal",
        ),
        (
            {"projects": {"web": {"repo": "r", "environments": {"dev": {}}}}},
            "/projects/web/environments/dev/owner",
            "owner is required",
        ),
        (
            {"projects": {"web": {"owner": "acme", "environments": {"dev": {}}}}},
            "/projects/web/environments/dev/repo",
            "repo is required",
        ),
        (env(env_path="../../etc"), "/projects/web/environments/dev/env_path", "path traversal"),
        (env(env_path="/abs"), "/projects/web/environments/dev/env_path", "absolute"),
        (env(repo="bad repo"), "/projects/web/environments/dev/repo", "invalid repo"),
        (env(repo="x.git"), "/projects/web/environments/dev/repo", "bare repository name"),
        (env(owner="-acme"), "/projects/web/environments/dev/owner", "invalid owner"),
        (env(base_branch="feat..x"), "/projects/web/environments/dev/base_branch", "path traversal"),
        (env(base_branch="main.lock"), "/projects/web/environments/dev/base_branch", "not a valid git branch"),
        (env(base_branch="ma in"), "/projects/web/environments/dev/base_branch", "shell metacharacter"),
        (env(prod="yes please"), "/projects/web/environments/dev/prod", "must be true or false"),
        (env(allowed_modules=["S3"]), "/projects/web/environments/dev/allowed_modules/0", "invalid module"),
        (env(region="us-east-1"), "/projects/web/environments/dev/region", "is not a known key"),
        (
            env(approvals_channel="#approvals"),
            "/projects/web/environments/dev/approvals_channel",
            "must be a Slack channel id",
        ),
        (env(approvals_channel="D0123ABCDE"), "/projects/web/environments/dev/approvals_channel", "C… for a public"),
        (env(approvals_channel="c0123abcde"), "/projects/web/environments/dev/approvals_channel", "invalid approvals"),
        (
            {
                "projects": {
                    "web": {
                        "owner": "acme",
                        "repo": "r",
                        "approvals_channel": "U0123ABCDE",
                        "environments": {"dev": {}},
                    }
                }
            },
            "/projects/web/approvals_channel",
            "invalid approvals channel 'U0123ABCDE'",
        ),
        (env(approvals_channel=123), "/projects/web/environments/dev/approvals_channel", "must be text"),
        (
            {"version": 2, "projects": {"web": {"owner": "acme", "repo": "r", "environments": {"dev": {}}}}},
            "/version",
            "version 2 is not supported",
        ),
        (
            {"projects": {"web": {"owner": "acme", "repo": "r", "environments": {"prod": {"prod": False}}}}},
            "/projects/web/environments/prod/prod",
            "named as production but has prod: false",
        ),
        (
            {"projects": {"web": {"owner": "acme", "repo": "r", "environments": {"dev": {}}}}, "extra": 1},
            "/extra",
            "not a known key",
        ),
        (
            {
                "projects": {
                    "web": {"owner": "acme", "repo": "r", "environments": {"dev": {}, "qa": {"env_path": "envs/dev"}}}
                }
            },
            "/projects/web/environments/qa/env_path",
            "same repo, branch and path as web/dev",
        ),
    ],
)
def test_invalid_maps_are_refused_naming_file_and_pointer(
    tmp_path: Path, doc: dict[str, Any], pointer: str, words: str
) -> None:
    path = write(tmp_path, doc)
    with pytest.raises(RegistryError) as caught:
        projects.load_projects(path)
    assert caught.value.file == str(path)
    assert caught.value.pointer == pointer, str(caught.value)
    assert words.lower() in str(caught.value).lower()


def test_unknown_allowed_modules_are_refused(tmp_path: Path, registry: Registry) -> None:
    path = write(tmp_path, env(allowed_modules=["s3-bucket", "lambda-function"]))
    assert projects.load_projects(path).target("web", "dev").allowed_modules == ["s3-bucket", "lambda-function"]
    with pytest.raises(RegistryError) as caught:
        projects.load_projects(path, known_modules=registry.ids())
    assert caught.value.pointer == "/projects/web/environments/dev/allowed_modules/1"
    assert "lambda-function" in str(caught.value)


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("projects.yaml", "projects: [unclosed", "does not parse"),
        ("projects.toml", "projects = = 1", "does not parse"),
        ("projects.txt", "projects: {}", "must end in"),
        ("projects.yaml", "- a list", "must hold an object"),
    ],
)
def test_unreadable_files(tmp_path: Path, name: str, content: str, words: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(RegistryError, match=words):
        projects.load_projects(path)
    with pytest.raises(RegistryError, match="cannot read"):
        projects.load_projects(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    ("name", "content", "line"),
    [
        (
            "projects.yaml",
            "projects:\n  web:\n    owner: acme\n    repo: r\n    environments:\n      dev: {}\n"
            "  web:\n    owner: evil\n    repo: r\n    environments:\n      dev: {}\n",
            "line 7",
        ),
        (
            "projects.yaml",
            "projects:\n  web:\n    owner: acme\n    repo: r\n    environments:\n"
            "      prod:\n        prod: true\n      prod:\n        prod: false\n",
            "line 8",
        ),
        (
            "projects.json",
            '{"projects": {"web": {"owner": "acme", "owner": "evil", "repo": "r", "environments": {}}}}',
            "",
        ),
    ],
)
def test_a_key_given_twice_is_refused_not_silently_overwritten(
    tmp_path: Path, name: str, content: str, line: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(RegistryError) as caught:
        projects.load_projects(path)
    assert "appears twice" in str(caught.value) and line in str(caught.value)
    assert caught.value.file == str(path)


def test_yaml_anchors_and_merge_keys_still_work(tmp_path: Path) -> None:
    path = tmp_path / "projects.yaml"
    path.write_text(
        "base: &base\n  owner: acme\n  repo: r\nprojects:\n  web:\n    <<: *base\n    environments:\n      dev: {}\n"
    )
    with pytest.raises(RegistryError, match="/base"):  # unknown top-level key, but the merge itself parsed
        projects.load_projects(path)
    path.write_text(
        "projects:\n  web:\n    <<: {owner: acme, repo: r}\n    repo: other\n    environments:\n      dev: {}\n"
    )
    assert projects.load_projects(path).target("web", "dev").repo == "other"
