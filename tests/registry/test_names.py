"""Identifiers, naming rules and the tag policy, and that bad input is refused before any path exists."""

from __future__ import annotations

from typing import Any

import pytest

from module_registry import identifiers, naming, render, tags
from module_registry.catalogue import Registry
from module_registry.errors import InvalidName

BAD_VALUES = [
    ("../etc", "path traversal"),
    ("..", "path traversal"),
    ("a/b", "path separator"),
    ("/abs", "path separator"),
    ("a\x00b", "NUL"),
    ("a\nb", "line break"),
    ("a\rb", "line break"),
    ("a;b", "shell metacharacter"),
    ("a|b", "shell metacharacter"),
    ("a&b", "shell metacharacter"),
    ("$(id)", "shell metacharacter"),
    ("`id`", "shell metacharacter"),
    ("a b", "shell metacharacter"),
    ("a>b", "shell metacharacter"),
    ("a*", "shell metacharacter"),
    ("a'b", "shell metacharacter"),
    ("a\\b", "shell metacharacter"),
    ("a\tb", "shell metacharacter"),
    ("café", "non-ASCII"),
    ("", "empty"),
]


@pytest.mark.parametrize("kind", ["project", "environment", "module", "name", "request id"])
@pytest.mark.parametrize(("value", "reason"), BAD_VALUES)
def test_identifiers_refuse_dangerous_values_with_the_reason(kind: str, value: str, reason: str) -> None:
    with pytest.raises(InvalidName) as caught:
        identifiers.check(kind, value)
    assert reason in str(caught.value)
    assert caught.value.kind == kind


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("project", "Core"),
        ("project", "-core"),
        ("environment", "dev-"),
        ("module", "s3--bucket"),
        ("request id", "req_ABC123"),
        ("request id", "abc"),
    ],
)
def test_identifiers_must_match_their_shape(kind: str, value: str) -> None:
    with pytest.raises(InvalidName, match="must be"):
        identifiers.check(kind, value)


def test_env_paths_allow_slashes_but_nothing_else_dangerous() -> None:
    assert identifiers.check_env_path("envs/dev") == "envs/dev"
    assert identifiers.check_env_path("live/us-east-1/prod_2") == "live/us-east-1/prod_2"
    for bad in (
        "../envs",
        "envs/../x",
        "/envs/dev",
        "envs//dev",
        "envs/dev/",
        "envs/.hidden",
        "envs/d;ev",
        "envs/dev\n",
        "envs/\x00",
        "env s",
        "x" * 201,
    ):
        with pytest.raises(InvalidName):
            identifiers.check_env_path(bad)


FIELDS = {
    "request_id": "req_abc123def456",
    "project": "core",
    "environment": "dev",
    "module": "s3-bucket",
    "env_path": "envs/dev",
}


class Spy:
    """A registry stand-in that fails the test if anything gets as far as a lookup."""

    def get(self, module_id: str) -> Any:
        raise AssertionError(f"registry consulted for {module_id!r} before the identifiers were checked")

    validate = get


BAD_FIELD_VALUES = [
    (field, value)
    for field in sorted(FIELDS)
    for value in ["../x", "a/b", "a\x00b", "a\nb", "a;rm -rf", "$(id)"]
    if not (field == "env_path" and value == "a/b")  # a relative env path may have segments
]


@pytest.mark.parametrize(("field", "value"), BAD_FIELD_VALUES)
def test_render_refuses_bad_identifiers_before_building_any_path(
    monkeypatch: pytest.MonkeyPatch, field: str, value: str
) -> None:
    built: list[str] = []
    monkeypatch.setattr(render, "file_path", lambda *a: built.append("path") or "x")
    args = {**FIELDS, field: value}
    inp = render.RenderInput(config={"name": "data"}, requester="U1", **args)
    with pytest.raises(InvalidName):
        render.render(inp, Spy())  # type: ignore[arg-type]
    assert built == []


@pytest.mark.parametrize("value", ["../x", "a/b", "a\x00b", "a\nb", "a;b", "$(id)", "Data"])
def test_bad_short_names_are_field_errors_not_paths(registry: Registry, value: str) -> None:
    result = registry.validate("s3-bucket", {"name": value}, "dev", prod=False, project="core")
    assert not result.ok and result.errors[0].field == "name"


@pytest.mark.parametrize(
    ("kind", "full", "problem"),
    [
        ("s3", "ab", "shorter than the 3"),
        ("s3", "a" * 64, "at most 63"),
        ("s3", "192.168.1.1", "IP address"),
        ("s3", "xn--core-dev", "xn--"),
        ("s3", "core-dev-x-s3alias", "reserved suffix"),
        ("sqs", "q" * 81, "at most 80"),
        ("iam-role", "r" * 65, "at most 64"),
        ("rds", "1core-dev-db", "start with a letter"),
        ("rds", "core--dev-db", "two hyphens"),
        ("rds", "d" * 64, "at most 63"),
        ("ecr", "e" * 257, "at most 256"),
        ("dynamodb", "t" * 256, "at most 255"),
        ("dynamodb", "ab", "shorter than the 3"),
        ("s3", "Core-Dev", "may only contain"),
        ("sqs", "core-dev-jobs-", "end with a hyphen"),
    ],
)
def test_resource_name_rules(kind: str, full: str, problem: str) -> None:
    found = naming.problems(full, kind)
    assert any(problem in p for p in found), found


def test_build_composes_and_explains() -> None:
    assert naming.build("core", "dev", "assets", "s3") == "core-dev-assets"
    assert naming.build("core", "dev", "jobs", "sqs", suffix=".fifo") == "core-dev-jobs.fifo"
    with pytest.raises(InvalidName) as caught:
        naming.build("core", "dev", "n" * 55, "s3")
    assert "is 64 characters; S3 bucket names allow at most 63: shorten the name by 1 character" in str(caught.value)
    with pytest.raises(InvalidName) as unknown:
        naming.rule("s5")
    assert "is not one of" in str(unknown.value)


def test_server_tags_are_authoritative() -> None:
    server = tags.server_tags("req_abc123def456", "core", "dev", "Jane Doe <jane@example.com>")
    assert server == {
        "managed-by": "tfpilot",
        "tfpilot-request-id": "req_abc123def456",
        "project": "core",
        "environment": "dev",
        "requester": "Jane Doe _jane@example.com_",
    }
    merged = tags.merge({"team": "payments"}, server)
    assert list(merged) == sorted(merged) and merged["team"] == "payments"
    with pytest.raises(tags.TagPolicyError, match="cannot be set or overridden"):
        tags.merge({"Project": "other"}, server)
    with pytest.raises(tags.TagPolicyError, match="required tag"):
        tags.assert_required({"managed-by": "tfpilot"})
    with pytest.raises(tags.TagPolicyError, match="must be 'tfpilot'"):
        tags.assert_required({**server, "managed-by": "someone"})
    assert tags.server_tags("req_abc123def456", "core", "dev", "")["requester"] == "unknown"
