"""Arbitrary JSON never breaks plan or cost parsing: a result or the module's own error."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from core.domain.cost import InvalidCost, parse_cost
from core.domain.plan_summary import InvalidPlan, render_plan_text, summarize_plan

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=25,
)
CHANGE = st.fixed_dictionaries(
    {
        "actions": st.lists(
            st.sampled_from(["create", "update", "delete", "no-op", "read", "forget"]), min_size=1, max_size=2
        )
    },
    optional={"before": JSON, "after": JSON, "after_unknown": JSON, "before_sensitive": JSON, "after_sensitive": JSON},
)
PLAN = st.fixed_dictionaries(
    {
        "format_version": st.just("1.2"),
        "resource_changes": st.lists(
            st.fixed_dictionaries({"address": st.text(min_size=1, max_size=20), "change": CHANGE}), max_size=5
        ),
    },
    optional={
        "planned_values": JSON,
        "prior_state": JSON,
        "output_changes": st.dictionaries(st.text(max_size=8), CHANGE, max_size=3),
    },
)


@settings(max_examples=200, deadline=None)
@given(doc=st.one_of(JSON, PLAN))
def test_plan_parsing_is_total(doc: Any) -> None:
    try:
        summary = summarize_plan(doc, max_chars=500)
        text = render_plan_text(doc, 2000)
    except InvalidPlan:
        return
    assert len(summary.text) <= 500
    assert len(text) <= 2000


@settings(max_examples=200, deadline=None)
@given(
    doc=JSON
    | st.dictionaries(
        st.sampled_from(["totalMonthlyCost", "pastTotalMonthlyCost", "diffTotalMonthlyCost", "currency"]), JSON
    )
)
def test_cost_parsing_is_total(doc: Any) -> None:
    try:
        parse_cost(doc)
    except InvalidCost:
        return


SECRET_LEAF = st.integers(min_value=0, max_value=10**6).map(lambda n: f"SECRET-{n:07d}-VALUE")
SECRET_TREE = st.recursive(
    SECRET_LEAF,
    lambda children: (
        st.lists(children, min_size=1, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b", "c"]), children, min_size=1, max_size=3)
    ),
    max_leaves=10,
)


def mirror_mask(value: Any) -> Any:
    """A sensitivity mask marking every leaf of ``value`` (as Terraform writes nested masks)."""
    if isinstance(value, dict):
        return {k: mirror_mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mirror_mask(v) for v in value]
    return True


@settings(max_examples=150, deadline=None)
@given(
    before=SECRET_TREE,
    after=SECRET_TREE,
    nested=st.booleans(),
    actions=st.sampled_from([["update"], ["create"], ["delete"], ["delete", "create"]]),
)
def test_sensitive_values_never_leak(before: Any, after: Any, nested: bool, actions: list[str]) -> None:
    change = {
        "actions": actions,
        "before": {"secret": before, "plain": 1},
        "after": {"secret": after, "plain": 2},
        "before_sensitive": {"secret": mirror_mask(before) if nested else True},
        "after_sensitive": {"secret": mirror_mask(after) if nested else True},
    }
    doc = {"format_version": "1.2", "planned_values": {}, "resource_changes": [{"address": "x_a.b", "change": change}]}
    text = render_plan_text(doc) + summarize_plan(doc).model_dump_json()
    assert "SECRET-" not in text
