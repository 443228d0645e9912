"""Plan output: a ``terraform show -json`` plan read into a ``PlanSummary`` and a bounded plan text.

Counts are disjoint: a replacement (``["delete","create"]`` or ``["create","delete"]``) counts
as ``replace`` only, not as an add and a destroy. ``addresses`` maps Terraform's action names
(``create``, ``update``, ``delete``, ``replace``, ``read``, ``forget``) to resource addresses;
no-ops are counted but not listed. ``has_deletions`` is set when an existing object goes away,
whether deleted or replaced. Sensitive values never appear in any output: values are redacted
(``before_sensitive``/``after_sensitive`` merged with the resources' ``sensitive_values``)
before anything is rendered, and a change that carries no sensitivity mask shows no values.
"""

from __future__ import annotations

import json
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.domain.errors import TfPilotError
from core.domain.request import PlanSummary

DEFAULT_SUMMARY_CHARS: Final = 3000  # fits one Slack section block
DEFAULT_PLAN_CHARS: Final = 60_000
DEFAULT_MAX_ADDRESSES: Final = 200  # per action, kept in the stored request
_MAX_VALUE_CHARS: Final = 200
_SUPPORTED_MAJOR: Final = "1"

# Action name -> (symbol, verb in the full text). Order is the listing order: risky first.
_ACTIONS: Final[dict[str, tuple[str, str]]] = {
    "delete": ("-", "destroyed"),
    "replace": ("-/+", "replaced"),
    "create": ("+", "created"),
    "update": ("~", "updated in-place"),
    "read": ("<=", "read during apply"),
    "forget": (".", "removed from state (not destroyed)"),
}


class InvalidPlan(TfPilotError, ValueError):
    """The document is not a Terraform plan in JSON form (``terraform show -json tfplan``)."""


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class PlanChange(_Part):
    actions: list[str] = Field(min_length=1)
    before: Any = None
    after: Any = None
    after_unknown: Any = None
    # True (everything is sensitive) when absent: a plan that does not say stays hidden.
    before_sensitive: Any = True
    after_sensitive: Any = True
    replace_paths: list[list[str | int]] | None = None


class ResourceChange(_Part):
    address: str
    mode: str = "managed"
    change: PlanChange
    action_reason: str | None = None
    deposed: str | None = None

    @property
    def action(self) -> str:
        return _action_of(self.change.actions)

    @property
    def label(self) -> str:
        return f"{self.address} (deposed {self.deposed})" if self.deposed else self.address


class TerraformPlan(_Part):
    format_version: str
    terraform_version: str | None = None
    resource_changes: list[ResourceChange] = Field(default_factory=list)
    output_changes: dict[str, PlanChange] = Field(default_factory=dict)
    planned_values: dict[str, Any] | None = None
    prior_state: dict[str, Any] | None = None
    errored: bool = False


def parse_plan(doc: Any) -> TerraformPlan:
    """Validate a decoded plan document; anything else raises ``InvalidPlan`` saying why."""
    if isinstance(doc, TerraformPlan):
        return doc
    if not isinstance(doc, dict):
        raise InvalidPlan(f"not a Terraform plan: expected a JSON object, got {type(doc).__name__}")
    version = doc.get("format_version")
    if not isinstance(version, str):
        raise InvalidPlan("not a Terraform plan: no format_version (expected `terraform show -json tfplan` output)")
    if version.split(".", 1)[0] != _SUPPORTED_MAJOR:
        raise InvalidPlan(f"unsupported plan format_version {version!r}: expected 1.x")
    if "planned_values" not in doc and "resource_changes" not in doc:
        raise InvalidPlan("not a Terraform plan: no planned_values or resource_changes (is this a state file?)")
    try:
        return TerraformPlan.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidPlan(f"invalid Terraform plan at {where}: {first['msg']}") from exc


def load_plan(raw: str | bytes) -> TerraformPlan:
    """Parse plan JSON text."""
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidPlan(f"not a Terraform plan: invalid JSON ({exc})") from exc
    return parse_plan(doc)


def summarize_plan(
    doc: Any, *, max_chars: int = DEFAULT_SUMMARY_CHARS, max_addresses: int = DEFAULT_MAX_ADDRESSES
) -> PlanSummary:
    """Counts, addresses by action, risk flags and a human summary of at most ``max_chars``."""
    plan = parse_plan(doc)
    counts = {"add": 0, "change": 0, "destroy": 0, "replace": 0, "no_op": 0}
    field_of = {"create": "add", "update": "change", "delete": "destroy", "replace": "replace", "no-op": "no_op"}
    listed: dict[str, list[str]] = {}
    for rc in plan.resource_changes:
        action = rc.action
        if action in field_of:
            counts[field_of[action]] += 1
        if action != "no-op":
            listed.setdefault(action, []).append(rc.label)
    truncated = any(len(v) > max_addresses for v in listed.values())
    text, text_cut = _summary_text(plan, counts, listed, max_chars)
    return PlanSummary(
        add=counts["add"],
        change=counts["change"],
        destroy=counts["destroy"],
        replace=counts["replace"],
        no_op=counts["no_op"],
        addresses={action: addrs[:max_addresses] for action, addrs in listed.items()},
        has_deletions=counts["destroy"] > 0 or counts["replace"] > 0,
        has_replacements=counts["replace"] > 0,
        text=text,
        truncated=truncated or text_cut,
    )


def headline(plan: TerraformPlan | dict[str, Any]) -> str:
    """Terraform's one-line total, e.g. ``Plan: 1 to add, 0 to change, 0 to destroy.``"""
    summary = summarize_plan(plan, max_chars=200, max_addresses=0)
    return summary.text.split("\n", 1)[0]


def _summary_text(
    plan: TerraformPlan, counts: dict[str, int], listed: dict[str, list[str]], max_chars: int
) -> tuple[str, bool]:
    if not any(counts[k] for k in ("add", "change", "destroy", "replace")) and not listed:
        head = ["No changes. Your infrastructure matches the configuration."]
    else:
        total = (
            f"Plan: {counts['add']} to add, {counts['change']} to change, {counts['destroy']} to destroy"
            + (f", {counts['replace']} to replace" if counts["replace"] else "")
            + (f", {len(listed['forget'])} to forget" if listed.get("forget") else "")
            + "."
        )
        head = [total]
        if counts["destroy"]:
            head.append(f"⚠ {_n(counts['destroy'], 'resource')} will be destroyed.")
        if counts["replace"]:
            head.append(f"⚠ {_n(counts['replace'], 'resource')} will be replaced (destroyed and re-created).")
    if plan.errored:
        head.append("⚠ Terraform reported errors: this plan is incomplete.")
    order = [*_ACTIONS, *sorted(set(listed) - set(_ACTIONS))]
    lines = [
        f"{_ACTIONS.get(action, ('?', ''))[0]} {address} ({action})" + (" ⚠" if action in ("delete", "replace") else "")
        for action in order
        for address in listed.get(action, [])
    ]
    return _bounded(head, lines, max_chars, unit="")


def _bounded(head: list[str], lines: list[str], max_chars: int, *, unit: str) -> tuple[str, bool]:
    """``head`` then as many ``lines`` as fit in ``max_chars`` with a "… and N more" tail."""
    out = "\n".join(head)
    if len(out) > max_chars:
        return _cut(out, max_chars), True
    for i, line in enumerate(lines):
        remaining = len(lines) - i
        tail = f"\n… and {remaining} more{unit}"
        candidate = f"{out}\n{line}" if out else line
        # Keep room for the tail unless this is the last line.
        room = 0 if remaining == 1 else len(f"\n… and {remaining - 1} more{unit}")
        if len(candidate) + room > max_chars:
            return (out + tail if len(out) + len(tail) <= max_chars else _cut(out, max_chars)), True
        out = candidate
    return out, False


def _cut(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    return text[: max_chars - 1] + "…" if max_chars > 0 else ""


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _action_of(actions: list[str]) -> str:
    if sorted(actions) == ["create", "delete"]:
        return "replace"
    if len(actions) == 1:
        return actions[0]
    return "+".join(actions)  # an action list Terraform does not document: shown as is


# ---- full plan text --------------------------------------------------------------------------


class _Masked:
    """A value that must not be shown: sensitive, or unknown until apply."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


SENSITIVE: Final = _Masked("(sensitive)")
UNKNOWN: Final = _Masked("(known after apply)")


def render_plan_text(doc: Any, max_chars: int = DEFAULT_PLAN_CHARS) -> str:
    """The plan as text, attribute by attribute, sensitive values replaced by ``(sensitive)``."""
    plan = parse_plan(doc)
    try:
        return _render(plan, max_chars)
    except RecursionError as exc:
        raise InvalidPlan("invalid Terraform plan: values nested too deeply to show") from exc


def _render(plan: TerraformPlan, max_chars: int) -> str:
    after_marks = _sensitive_values(plan.planned_values)
    before_marks = _sensitive_values((plan.prior_state or {}).get("values"))
    blocks: list[str] = []
    for rc in plan.resource_changes:
        if rc.action == "no-op":
            continue
        blocks.append(_resource_block(rc, before_marks.get(rc.address, False), after_marks.get(rc.address, False)))
    outputs = [
        _output_line(name, change, _output_sensitive(plan.planned_values, name))
        for name, change in sorted(plan.output_changes.items())
        if _action_of(change.actions) != "no-op"
    ]
    if outputs:
        blocks.append("Changes to Outputs:\n" + "\n".join(outputs))
    # A leading newline puts a blank line between blocks.
    text, _ = _bounded([headline(plan)], [f"\n{block}" for block in blocks], max_chars, unit=" changes")
    return text


def _resource_block(rc: ResourceChange, before_mark: Any, after_mark: Any) -> str:
    change = rc.change
    action = rc.action
    verb = _ACTIONS[action][1] if action in _ACTIONS else f"changed ({action})"
    reason = f" ({rc.action_reason.replace('_', ' ')})" if rc.action_reason else ""
    title = f"# {rc.label} will be {verb}{reason}"
    if action in ("read", "forget"):
        return title
    before = _redact(change.before, _mask_or(change.before_sensitive, before_mark))
    after = _unknowns(_redact(change.after, _mask_or(change.after_sensitive, after_mark)), change.after_unknown)
    forcing = {str(path[0]) for path in change.replace_paths or [] if path}
    if action == "create":
        lines = _attr_lines("+", _as_dict(after), forcing)
    elif action == "delete":
        lines = _attr_lines("-", _as_dict(before), forcing)
    else:
        lines = _diff_lines(_as_dict(before), _as_dict(after), forcing, raw=(change.before, change.after))
    return "\n".join([title, *(f"    {line}" for line in lines)])


def _attr_lines(symbol: str, values: dict[str, Any], forcing: set[str]) -> list[str]:
    return [
        f"{symbol} {key} = {_fmt(value)}" + ("  # forces replacement" if key in forcing else "")
        for key, value in sorted(values.items())
        if value is not None
    ]


def _diff_lines(before: dict[str, Any], after: dict[str, Any], forcing: set[str], *, raw: tuple[Any, Any]) -> list[str]:
    # Whether an attribute changed is decided on the raw values; only redacted ones are shown.
    raw_before = raw[0] if isinstance(raw[0], dict) else {}
    raw_after = raw[1] if isinstance(raw[1], dict) else {}
    out = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        changed = raw_before.get(key) != raw_after.get(key) or new is UNKNOWN
        if not changed and key not in forcing:
            continue
        note = "  # forces replacement" if key in forcing else ""
        if new is None:
            out.append(f"- {key} = {_fmt(old)} -> null{note}")
        elif old is None:
            out.append(f"+ {key} = {_fmt(new)}{note}")
        else:
            out.append(f"~ {key} = {_fmt(old)} -> {_fmt(new)}{note}")
    return out


def _output_line(name: str, change: PlanChange, planned_sensitive: bool) -> str:
    action = _action_of(change.actions)
    symbol = _ACTIONS.get(action, ("?", ""))[0]
    before_mask = True if planned_sensitive else change.before_sensitive
    after_mask = True if planned_sensitive else change.after_sensitive
    before = _redact(change.before, before_mask)
    after = _unknowns(_redact(change.after, after_mask), change.after_unknown)
    if action == "create":
        return f"{symbol} {name} = {_fmt(after)}"
    if action == "delete":
        return f"{symbol} {name} = {_fmt(before)} -> null"
    return f"{symbol} {name} = {_fmt(before)} -> {_fmt(after)}"


def _redact(value: Any, mask: Any) -> Any:
    """``value`` with every part the sensitivity ``mask`` marks replaced by ``SENSITIVE``."""
    if mask is True:
        return SENSITIVE
    if mask is False or mask is None:
        return value
    if isinstance(mask, dict) and isinstance(value, dict):
        return {k: _redact(v, mask.get(k, False)) for k, v in value.items()}
    if isinstance(mask, list) and isinstance(value, list):
        return [_redact(v, mask[i] if i < len(mask) else False) for i, v in enumerate(value)]
    if isinstance(mask, dict | list) and value is None:
        return None
    # A mask of a shape the value does not have: hide the whole value rather than guess.
    return SENSITIVE


def _unknowns(value: Any, unknown: Any) -> Any:
    if unknown is True:
        return value if value is SENSITIVE else UNKNOWN
    if isinstance(unknown, dict):
        base = dict(value) if isinstance(value, dict) else ({} if value is None else None)
        if base is None:
            return value
        for key, flag in unknown.items():
            base[key] = _unknowns(base.get(key), flag)
        return base
    if isinstance(unknown, list) and isinstance(value, list):
        return [_unknowns(v, unknown[i] if i < len(unknown) else False) for i, v in enumerate(value)]
    return value


def _mask_or(a: Any, b: Any) -> Any:
    """A mask sensitive wherever either ``a`` or ``b`` is."""
    if a is True or b is True:
        return True
    if a is False or a is None:
        return b
    if b is False or b is None:
        return a
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: _mask_or(a.get(k, False), b.get(k, False)) for k in set(a) | set(b)}
    if isinstance(a, list) and isinstance(b, list):
        n = max(len(a), len(b))
        return [_mask_or(a[i] if i < len(a) else False, b[i] if i < len(b) else False) for i in range(n)]
    return True  # masks of different shapes: hide everything


def _sensitive_values(module: Any) -> dict[str, Any]:
    """``sensitive_values`` of every resource in a (planned or prior) values tree, by address."""
    found: dict[str, Any] = {}
    if not isinstance(module, dict):
        return found
    stack = [module.get("root_module")]
    while stack:
        node = stack.pop()
        if not isinstance(node, dict):
            continue
        for res in node.get("resources") or []:
            if isinstance(res, dict) and isinstance(res.get("address"), str):
                found[res["address"]] = res.get("sensitive_values", False)
        stack.extend(node.get("child_modules") or [])
    return found


def _output_sensitive(planned_values: dict[str, Any] | None, name: str) -> bool:
    outputs = (planned_values or {}).get("outputs")
    output = outputs.get(name) if isinstance(outputs, dict) else None
    return bool(isinstance(output, dict) and output.get("sensitive"))


def _as_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    return {} if value is None else {"(value)": value}


def _fmt(value: Any) -> str:
    text = _fmt_inner(value)
    return text if len(text) <= _MAX_VALUE_CHARS else text[: _MAX_VALUE_CHARS - 1] + "…"


def _fmt_inner(value: Any) -> str:
    if isinstance(value, _Masked):
        return value.text
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_fmt_inner(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_fmt_inner(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)
