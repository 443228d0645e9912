"""Size bounds on large plans, and every action Terraform writes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.domain.plan_summary import DEFAULT_SUMMARY_CHARS, render_plan_text, summarize_plan
from tests.plan.conftest import resource_change, synthetic_plan

ACTIONS = [["create"], ["update"], ["delete"], ["delete", "create"], ["no-op"]]


def big_plan(n: int = 5000) -> dict:
    changes = [
        resource_change(
            f"aws_s3_bucket.b{i:05d}",
            ACTIONS[i % len(ACTIONS)],
            before=None if i % 5 == 0 else {"bucket": f"old-{i}", "tags": {"n": str(i)}},
            after=None if i % 5 == 2 else {"bucket": f"new-{i}", "tags": {"n": str(i)}},
        )
        for i in range(n)
    ]
    return synthetic_plan(changes)


@pytest.fixture(scope="module")
def plan_5000() -> dict:
    return big_plan()


def test_5000_resources_counts_are_exact(plan_5000: dict) -> None:
    summary = summarize_plan(plan_5000)
    assert (summary.add, summary.change, summary.destroy, summary.replace, summary.no_op) == (1000,) * 5
    assert summary.has_deletions and summary.has_replacements


def test_5000_resources_summary_is_bounded(plan_5000: dict) -> None:
    summary = summarize_plan(plan_5000)
    assert len(summary.text) <= DEFAULT_SUMMARY_CHARS
    assert summary.truncated is True
    assert summary.text.startswith("Plan: 1000 to add, 1000 to change, 1000 to destroy, 1000 to replace.")
    last = summary.text.rsplit("\n", 1)[-1]
    assert last.startswith("… and ") and last.endswith(" more")
    shown = summary.text.count("\n") - 3  # headline, two warnings, the tail
    assert int(last.split()[2]) == 4000 - shown
    # Deletions and replacements are listed first: a reviewer sees the risky ones.
    assert "\n- aws_s3_bucket.b00002 (delete) ⚠" in summary.text


def test_5000_resources_addresses_are_bounded(plan_5000: dict) -> None:
    summary = summarize_plan(plan_5000, max_addresses=50)
    assert set(summary.addresses) == {"create", "update", "delete", "replace"}
    assert all(len(v) == 50 for v in summary.addresses.values())
    assert summary.addresses["create"][:2] == ["aws_s3_bucket.b00000", "aws_s3_bucket.b00005"]


def test_5000_resources_full_text_is_bounded(plan_5000: dict) -> None:
    text = render_plan_text(plan_5000, 20_000)
    assert len(text) <= 20_000
    assert text.rsplit("\n", 1)[-1].endswith(" more changes")


@settings(max_examples=60, deadline=None)
@given(max_chars=st.integers(min_value=0, max_value=4000), n=st.integers(min_value=0, max_value=60))
def test_any_bound_is_honoured(max_chars: int, n: int) -> None:
    doc = big_plan(n)
    assert len(summarize_plan(doc, max_chars=max_chars).text) <= max_chars
    assert len(render_plan_text(doc, max_chars)) <= max_chars


def test_small_plan_is_not_truncated() -> None:
    summary = summarize_plan(big_plan(10))
    assert summary.truncated is False
    assert "more" not in summary.text


def test_long_values_are_cut() -> None:
    doc = synthetic_plan([resource_change("x_a.b", ["create"], after={"policy": "x" * 10_000})])
    text = render_plan_text(doc)
    assert len(text) < 400
    assert '+ policy = "xxx' in text and text.endswith("…")


def test_create_before_destroy_is_a_replacement() -> None:
    doc = synthetic_plan([resource_change("x_a.b", ["create", "delete"], before={"k": 1}, after={"k": 2})])
    summary = summarize_plan(doc)
    assert (summary.replace, summary.add, summary.destroy) == (1, 0, 0)
    assert summary.addresses == {"replace": ["x_a.b"]}
    assert "~ k = 1 -> 2" in render_plan_text(doc)


def test_read_forget_and_deposed() -> None:
    doc = synthetic_plan(
        [
            {**resource_change("data.aws_caller_identity.me", ["read"]), "mode": "data"},
            resource_change("x_a.kept", ["forget"], before={"k": 1}),
            {**resource_change("x_a.old", ["delete"], before={"k": 1}), "deposed": "00000001"},
        ]
    )
    summary = summarize_plan(doc)
    assert (summary.add, summary.change, summary.destroy, summary.replace) == (0, 0, 1, 0)
    assert summary.addresses == {
        "read": ["data.aws_caller_identity.me"],
        "forget": ["x_a.kept"],
        "delete": ["x_a.old (deposed 00000001)"],
    }
    assert summary.text.splitlines()[0] == "Plan: 0 to add, 0 to change, 1 to destroy, 1 to forget."
    assert "<= data.aws_caller_identity.me (read)" in summary.text
    full = render_plan_text(doc)
    assert "# data.aws_caller_identity.me will be read during apply" in full
    assert "# x_a.kept will be removed from state (not destroyed)" in full
    assert "# x_a.old (deposed 00000001) will be destroyed" in full


def test_errored_plan_is_flagged() -> None:
    doc = synthetic_plan([resource_change("x_a.b", ["create"], after={})], errored=True)
    assert "⚠ Terraform reported errors: this plan is incomplete." in summarize_plan(doc).text


def test_undocumented_action_list_is_listed_as_is() -> None:
    doc = synthetic_plan([resource_change("x_a.b", ["update", "create"], before={"k": 1}, after={"k": 2})])
    summary = summarize_plan(doc)
    assert summary.addresses == {"update+create": ["x_a.b"]}
    assert "? x_a.b (update+create)" in summary.text
    assert "# x_a.b will be changed (update+create)" in render_plan_text(doc)
