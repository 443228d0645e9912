"""Sensitive values never appear: not in the summary, the full text, nor the CLI output."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from bot.cli.main import main
from core.domain.plan_summary import render_plan_text, summarize_plan
from tests.plan.conftest import PLAN_FILES, resource_change, synthetic_plan

Loader = Callable[[str], dict[str, Any]]
# The prior values that before_sensitive marks in the shared sensitive plan.
FIXTURE_SECRETS = ("hxk5iA==", "87193988")


def test_fixture_secrets_are_really_in_the_plan(plan: Loader) -> None:
    raw = json.dumps(plan("sensitive"))
    assert all(secret in raw for secret in FIXTURE_SECRETS)


def test_fixture_secrets_absent_from_summary_and_full_text(plan: Loader) -> None:
    doc = plan("sensitive")
    summary = summarize_plan(doc)
    full = render_plan_text(doc)
    for secret in FIXTURE_SECRETS:
        assert secret not in summary.text
        assert secret not in summary.model_dump_json()
        assert secret not in full
    assert "~ base64 = (sensitive) -> (known after apply)" in full
    assert "~ hex = (sensitive) -> (known after apply)" in full
    assert "~ length = 4 -> 8  # forces replacement" in full


@pytest.mark.parametrize("flags", [[], ["--json"], ["--full"], ["--full", "--json"]])
def test_fixture_secrets_absent_from_cli(flags: list[str], plans_dir: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan-summary", str(plans_dir / PLAN_FILES["sensitive"]), *flags]) == 0
    out = capsys.readouterr()
    for secret in FIXTURE_SECRETS:
        assert secret not in out.out
        assert secret not in out.err


SECRET = "s3cr3t-Value-42"


def _all_text(doc: dict[str, Any]) -> str:
    return summarize_plan(doc).model_dump_json() + render_plan_text(doc)


def test_nested_sensitive_attribute() -> None:
    doc = synthetic_plan(
        [
            resource_change(
                "aws_db_instance.main",
                ["update"],
                before={"password": "old-" + SECRET, "tags": {"a": "1", "token": SECRET}, "size": 1},
                after={"password": SECRET, "tags": {"a": "2", "token": SECRET + "x"}, "size": 2},
                before_sensitive={"password": True, "tags": {"token": True}},
                after_sensitive={"password": True, "tags": {"token": True}},
            )
        ]
    )
    text = render_plan_text(doc)
    assert SECRET not in _all_text(doc)
    assert "~ password = (sensitive) -> (sensitive)" in text
    assert '~ tags = {a = "1", token = (sensitive)} -> {a = "2", token = (sensitive)}' in text
    assert "~ size = 1 -> 2" in text


def test_sensitive_list_elements() -> None:
    doc = synthetic_plan(
        [
            resource_change(
                "x_thing.a",
                ["create"],
                after={"keys": ["public", SECRET]},
                after_sensitive={"keys": [False, True]},
            )
        ]
    )
    text = render_plan_text(doc)
    assert SECRET not in _all_text(doc)
    assert '+ keys = ["public", (sensitive)]' in text


def test_whole_resource_sensitive() -> None:
    doc = synthetic_plan(
        [resource_change("x_thing.a", ["delete"], before={"k": SECRET}, before_sensitive=True, after_sensitive=False)]
    )
    assert SECRET not in _all_text(doc)
    assert "- (value) = (sensitive)" in render_plan_text(doc)


def test_sensitive_values_from_planned_and_prior_state() -> None:
    # The change itself claims nothing is sensitive; the resources' sensitive_values say otherwise.
    change = resource_change(
        "module.db.aws_db_instance.main",
        ["update"],
        before={"password": "before-" + SECRET, "n": 1},
        after={"password": SECRET, "n": 2},
    )
    doc = synthetic_plan(
        [change],
        planned_values={
            "root_module": {
                "child_modules": [
                    {
                        "address": "module.db",
                        "resources": [
                            {"address": "module.db.aws_db_instance.main", "sensitive_values": {"password": True}}
                        ],
                    }
                ]
            }
        },
        prior_state={
            "format_version": "1.0",
            "values": {
                "root_module": {
                    "child_modules": [
                        {
                            "resources": [
                                {"address": "module.db.aws_db_instance.main", "sensitive_values": {"password": True}}
                            ]
                        }
                    ]
                }
            },
        },
    )
    assert SECRET not in _all_text(doc)
    assert "~ password = (sensitive) -> (sensitive)" in render_plan_text(doc)


def test_missing_masks_hide_values() -> None:
    rc = resource_change("x_thing.a", ["update"], before={"k": "old" + SECRET}, after={"k": SECRET})
    del rc["change"]["before_sensitive"]
    del rc["change"]["after_sensitive"]
    doc = synthetic_plan([rc])
    assert SECRET not in _all_text(doc)


@pytest.mark.parametrize("mask", ["yes", 1, {"k": "maybe"}, [True]])
def test_odd_masks_hide_values(mask: Any) -> None:
    doc = synthetic_plan([resource_change("x_thing.a", ["create"], after={"k": SECRET}, after_sensitive=mask)])
    assert SECRET not in _all_text(doc)


def test_sensitive_outputs() -> None:
    doc = synthetic_plan(
        [],
        output_changes={
            "db_password": {
                "actions": ["create"],
                "before": None,
                "after": SECRET,
                "after_unknown": False,
                "before_sensitive": False,
                "after_sensitive": True,
            },
            "planned_secret": {
                "actions": ["update"],
                "before": "a" + SECRET,
                "after": "b" + SECRET,
                "after_unknown": False,
                "before_sensitive": False,
                "after_sensitive": False,
            },
            "endpoint": {
                "actions": ["create"],
                "before": None,
                "after": "db.example.com",
                "after_unknown": False,
                "before_sensitive": False,
                "after_sensitive": False,
            },
        },
        planned_values={"root_module": {}, "outputs": {"planned_secret": {"sensitive": True, "value": "b" + SECRET}}},
    )
    text = render_plan_text(doc)
    assert SECRET not in text
    assert "+ db_password = (sensitive)" in text
    assert "~ planned_secret = (sensitive) -> (sensitive)" in text
    assert '+ endpoint = "db.example.com"' in text
