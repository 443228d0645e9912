"""The local runner's plan preview: a ``terraform show -json``-shaped document built from the
resources of two inventories (the merge base's and the branch's), never from a cloud."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from core.adapters.local_hcl import Resource, resources_of

PREVIEW_NOTE = (
    "TfPilot local preview: computed from the difference between the base branch and this branch; "
    "no provider was called and no cloud plan was made."
)


def inventory(parsed: Mapping[str, Mapping[str, Any]]) -> dict[str, Resource]:
    """Every resource and module call of the parsed files by address (the first file wins)."""
    out: dict[str, Resource] = {}
    for path in sorted(parsed):
        for res in resources_of(path, parsed[path]):
            out.setdefault(res.address, res)
    return out


def _rc(res: Resource, actions: list[str], before: Any, after: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "address": res.address,
        "mode": "managed",
        "type": res.type,
        "name": res.name,
        "change": {
            "actions": actions,
            "before": before,
            "after": after,
            "after_unknown": {},
            "before_sensitive": {},
            "after_sensitive": {},
        },
        "tfpilot_file": res.path,
    }
    if res.provider_name:
        doc["provider_name"] = res.provider_name
    if res.mode == "module":
        # A module call cannot be expanded without downloading it: it stands for its resources.
        doc["module_address"] = res.address
        doc["tfpilot_module_call"] = True
    return doc


def build_preview(
    before: Mapping[str, Resource], after: Mapping[str, Resource], *, generated_at: str
) -> dict[str, Any]:
    """A ``terraform show -json``-shaped document from two inventories (sorted by address)."""
    changes: list[dict[str, Any]] = []
    for address in sorted(set(before) | set(after)):
        old, new = before.get(address), after.get(address)
        if old is None and new is not None:
            changes.append(_rc(new, ["create"], None, new.values))
        elif new is None and old is not None:
            changes.append(_rc(old, ["delete"], old.values, None))
        elif old is not None and new is not None:
            same = json.dumps(old.values, sort_keys=True) == json.dumps(new.values, sort_keys=True)
            changes.append(_rc(new, ["no-op"] if same else ["update"], old.values, new.values))
    return {
        "format_version": "1.2",
        "terraform_version": None,
        "tfpilot_local_preview": True,
        "tfpilot_note": PREVIEW_NOTE,
        "timestamp": generated_at,
        "errored": False,
        "resource_changes": changes,
    }


def count_changes(plan: Mapping[str, Any]) -> dict[str, int]:
    counts = {"create": 0, "update": 0, "delete": 0}
    for rc in plan.get("resource_changes", []):
        for action in rc["change"]["actions"]:
            if action in counts:
                counts[action] += 1
    return counts


def change_symbol(actions: list[str]) -> str:
    return {"create": "+", "update": "~", "delete": "-"}.get(actions[0], "?")
