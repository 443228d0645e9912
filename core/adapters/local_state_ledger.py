"""The ledger a preview-only apply or destroy keeps on the base branch:
``<envPath>/.tfpilot-state/<requestId>.json``, rewritten (never deleted) so git history keeps
what was applied and what was destroyed."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from core.adapters.local_hcl import Resource

STATE_DIR = ".tfpilot-state"


def state_row(res: Resource) -> dict[str, Any]:
    return {"address": res.address, "type": res.type, "name": res.name, "file": res.path}


def load_state(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def dump_state(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"
