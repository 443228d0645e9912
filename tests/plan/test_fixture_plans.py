"""Every shared plan: exact counts, flags, addresses, and the text a reviewer sees."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.domain.plan_summary import render_plan_text, summarize_plan
from tests.plan.conftest import PLAN_FILES

Loader = Callable[[str], dict[str, Any]]

# case -> (add, change, destroy, replace, no_op, has_deletions, has_replacements, addresses)
EXPECTED: dict[str, tuple[int, int, int, int, int, bool, bool, dict[str, list[str]]]] = {
    "create": (1, 0, 0, 0, 0, False, False, {"create": ["terraform_data.foo-bar"]}),
    "update": (0, 1, 0, 0, 0, False, False, {"update": ["terraform_data.foo-bar"]}),
    "delete": (0, 0, 1, 0, 0, True, False, {"delete": ["terraform_data.foo-bar"]}),
    "delete-create": (0, 0, 0, 1, 0, True, True, {"replace": ["null_resource.foo-bar"]}),
    "no-op": (0, 0, 0, 0, 1, False, False, {}),
    "no-resources": (0, 0, 0, 0, 0, False, False, {}),
    "sensitive": (0, 0, 0, 1, 0, True, True, {"replace": ["random_bytes.test"]}),
}

SUMMARY_TEXT = {
    "create": "Plan: 1 to add, 0 to change, 0 to destroy.\n+ terraform_data.foo-bar (create)",
    "update": "Plan: 0 to add, 1 to change, 0 to destroy.\n~ terraform_data.foo-bar (update)",
    "delete": "Plan: 0 to add, 0 to change, 1 to destroy.\n⚠ 1 resource will be destroyed.\n- terraform_data.foo-bar (delete) ⚠",
    "delete-create": (
        "Plan: 0 to add, 0 to change, 0 to destroy, 1 to replace.\n"
        "⚠ 1 resource will be replaced (destroyed and re-created).\n"
        "-/+ null_resource.foo-bar (replace) ⚠"
    ),
    "no-op": "No changes. Your infrastructure matches the configuration.",
    "no-resources": "No changes. Your infrastructure matches the configuration.",
}


def test_every_shared_plan_is_covered(plans_dir: Path) -> None:
    assert {p.name for p in plans_dir.glob("*.json")} == set(PLAN_FILES.values())


@pytest.mark.parametrize("case", sorted(PLAN_FILES))
def test_counts_flags_addresses(case: str, plan: Loader) -> None:
    summary = summarize_plan(plan(case))
    add, change, destroy, replace, no_op, deletions, replacements, addresses = EXPECTED[case]
    assert (summary.add, summary.change, summary.destroy, summary.replace, summary.no_op) == (
        add,
        change,
        destroy,
        replace,
        no_op,
    )
    assert summary.has_deletions is deletions
    assert summary.has_replacements is replacements
    assert summary.addresses == addresses
    assert summary.truncated is False


@pytest.mark.parametrize("case", sorted(SUMMARY_TEXT))
def test_summary_text(case: str, plan: Loader) -> None:
    assert summarize_plan(plan(case)).text == SUMMARY_TEXT[case]


def test_summary_round_trips_as_stored_document(plan: Loader) -> None:
    from core.domain.request import PlanSummary

    summary = summarize_plan(plan("delete-create"))
    doc = summary.to_doc()
    assert doc["hasReplacements"] is True
    assert doc["noOp"] == 0
    assert PlanSummary.model_validate(doc) == summary


def test_full_text_create(plan: Loader) -> None:
    assert render_plan_text(plan("create")) == (
        "Plan: 1 to add, 0 to change, 0 to destroy.\n\n"
        "# terraform_data.foo-bar will be created\n"
        "    + id = (known after apply)\n"
        '    + input = "foo"\n'
        "    + output = (known after apply)"
    )


def test_full_text_update_shows_only_changed_attributes(plan: Loader) -> None:
    text = render_plan_text(plan("update"))
    assert "# terraform_data.foo-bar will be updated in-place" in text
    assert '~ input = "foo" -> "bar"' in text
    assert '~ output = "foo" -> (known after apply)' in text
    assert "72285066" not in text  # the unchanged id is not repeated


def test_full_text_delete(plan: Loader) -> None:
    text = render_plan_text(plan("delete"))
    assert "# terraform_data.foo-bar will be destroyed (delete because no resource config)" in text
    assert '- input = "foo"' in text


def test_full_text_replace_flags_forcing_attribute(plan: Loader) -> None:
    text = render_plan_text(plan("delete-create"))
    assert "# null_resource.foo-bar will be replaced (replace because cannot update)" in text
    assert "triggers = " in text
    assert "# forces replacement" in text


@pytest.mark.parametrize("case", ["no-op", "no-resources"])
def test_full_text_without_changes(case: str, plan: Loader) -> None:
    assert render_plan_text(plan(case)) == "No changes. Your infrastructure matches the configuration."
