"""Fixtures for plan output: the shared ``terraform show -json`` plans and a synthetic builder."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

PLAN_FILES = {
    "create": "tf-plan-format__create.tfplan.json",
    "update": "tf-plan-format__update.tfplan.json",
    "delete": "tf-plan-format__delete.tfplan.json",
    "delete-create": "tf-plan-format__delete-create.tfplan.json",
    "no-op": "tf-plan-format__no-op.tfplan.json",
    "no-resources": "tf-plan-format__no-resources.tfplan.json",
    "sensitive": "tf-plan-format__sensitive.tfplan.json",
}


@pytest.fixture(scope="session")
def plans_dir(shared_fixtures: Path) -> Path:
    return shared_fixtures / "terraform" / "plans"


@pytest.fixture
def plan(plans_dir: Path) -> Callable[[str], dict[str, Any]]:
    def _load(case: str) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads((plans_dir / PLAN_FILES[case]).read_text())
        return loaded

    return _load


def resource_change(
    address: str,
    actions: list[str],
    *,
    before: Any = None,
    after: Any = None,
    before_sensitive: Any = False,
    after_sensitive: Any = False,
    after_unknown: Any = None,
    **extra: Any,
) -> dict[str, Any]:
    rtype, name = address.split(".")[-2:]
    return {
        "address": address,
        "mode": "managed",
        "type": rtype,
        "name": name,
        "change": {
            "actions": actions,
            "before": before,
            "after": after,
            "after_unknown": after_unknown or {},
            "before_sensitive": before_sensitive,
            "after_sensitive": after_sensitive,
        },
        **extra,
    }


def synthetic_plan(changes: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "format_version": "1.2",
        "terraform_version": "1.11.0",
        "planned_values": {"root_module": {}},
        "resource_changes": changes,
        **extra,
    }
