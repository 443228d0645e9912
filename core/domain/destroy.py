"""Destroy, decided without I/O: the steps of a destroy operation, where one stands, and which of
a module's destroy guards hold for a request's config.

A destroy keeps the code and the state in agreement at every step (docs/lifecycle.md): TfPilot
opens a **removal PR** (branch ``destroy/<id>``, the request's file deleted), gets it approved
as the base branch's protection asks, runs the targeted destroy on the base branch **while the
file is still there**, and merges the removal PR only after the destroy succeeded. The names of
the operation's steps live here, in one place; ``removal_stage`` says what comes next from the
recorded facts alone.

Guards (``DestroyGuard`` in a module definition) are the config fields that make AWS refuse a
delete. ``held_guards`` says which hold for a config: ``always`` guards (deletion or termination
protection) block the destroy until a change lifts them; ``holds_data`` guards (a bucket's
objects, a repository's images) block only when the resource holds data, which only the destroy
run's preflight can see, so they are told as a warning and checked there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from core.domain.lifecycle import run_failed, run_succeeded
from core.domain.operation import DestroyOp, OperationBase
from core.domain.refusals import Denial, denial
from core.domain.request import Request
from module_registry.definition import DestroyGuard

REMOVAL_PREFIX = "destroy/"
PREPARE_PREFIX = "prepare/"


def removal_branch(request_id: str) -> str:
    return f"{REMOVAL_PREFIX}{request_id}"


def prepare_branch(request_id: str) -> str:
    """The branch of the change that lifts a request's destroy guards (Prepare destroy)."""
    return f"{PREPARE_PREFIX}{request_id}"


# The destroy operation's steps are typed fields of ``DestroySteps`` (core/domain/operation.py):
# ``removal_branch`` → ``commit_attempt``, ``removal_commit`` → ``removal_pr`` →
# ``removal_review_started``, ``removal_review_wanted`` → ``removal_reviewed`` →
# ``launches.destroy`` → ``removal_merged`` (or ``removal_blocked``, ``failed``).


def is_legacy(op: OperationBase) -> bool:
    """A destroy begun the old way (the cleanup workflow) finishes the old way."""
    if not isinstance(op, DestroyOp):
        return False
    steps = op.steps
    return (
        steps.launch("cleanup") is not None
        or steps.cleanup_run is not None
        or steps.cleanup_merged is not None
        or steps.cleanup_skipped is not None
    )


class Stage(StrEnum):
    OPEN = "open"  # no removal PR yet: branch, commit, PR
    REVIEW = "review"  # the removal PR needs the approval the protection asks for
    DESTROY = "destroy"  # approved: dispatch the targeted destroy on the base branch
    RUNNING = "running"  # the destroy run is queued or running: a fact moves it
    FAILED = "failed"  # the destroy run failed: the attempt ends, the removal PR stays open
    MERGE = "merge"  # destroyed: merge the removal PR
    DONE = "done"  # merged (or ended)


def removal_stage(request: Request, op: DestroyOp) -> Stage:
    """Where the (new-style) destroy ``op`` stands, from the recorded facts alone."""
    steps = op.steps
    if op.completed_at is not None or steps.removal_merged is not None:
        return Stage.DONE
    if steps.removal_pr is None:
        return Stage.OPEN
    if steps.removal_reviewed is None:
        return Stage.REVIEW
    if not steps.recorded("destroy"):
        return Stage.DESTROY
    launch = steps.launch("destroy")
    run_id = launch.run_id if launch is not None else None
    run = request.run("destroy")
    if run is None or (run_id is not None and run.run_id != run_id):
        return Stage.RUNNING
    if run_succeeded(run):
        return Stage.MERGE
    if run_failed(run):
        return Stage.FAILED
    return Stage.RUNNING


def removal_outdated(request: Request, number: int) -> bool:
    """Was the removal PR ``number`` opened before a Prepare destroy of the request? Its deletion
    is then of the file as it was before that change (a modify/delete conflict with the base
    now), so a new attempt deletes the file again on the base head instead of reusing it.
    Operations are appended in the order they began: the list's order is the time order."""
    opened = [
        i
        for i, op in enumerate(request.operations)
        if isinstance(op, DestroyOp) and op.steps.removal_pr is not None and op.steps.removal_pr.number == number
    ]
    prepared = [i for i, op in enumerate(request.operations) if op.kind == "prepare_destroy"]
    return bool(opened) and bool(prepared) and min(opened) < max(prepared)


def removal_waiter(request: Request) -> DestroyOp | None:
    """The unfinished new-style destroy, if any."""
    for op in request.operations:
        if isinstance(op, DestroyOp) and op.completed_at is None and not is_legacy(op):
            return op
    return None


def waits_on_run(request: Request, op: OperationBase) -> bool:
    """The (new-style) destroy waits for its run: only the run's fact, or a refresh, moves it."""
    return isinstance(op, DestroyOp) and not is_legacy(op) and removal_stage(request, op) is Stage.RUNNING


def waits_for_review(request: Request, op: OperationBase) -> bool:
    """The destroy was told its removal PR needs a review and waits for one (or a linked click)."""
    return (
        isinstance(op, DestroyOp)
        and not is_legacy(op)
        and removal_stage(request, op) is Stage.REVIEW
        and op.steps.removal_review_wanted is not None
    )


def merge_pending(request: Request) -> bool:
    """A destroy succeeded and its removal PR is not merged yet: the request is not archived
    until it is (archiving would drop the operation that merges it)."""
    op = removal_waiter(request)
    return op is not None and removal_stage(request, op) is Stage.MERGE


# -- guards -------------------------------------------------------------------------------


class HeldGuard(BaseModel):
    """A guard that holds for a config: the field, its value, the value that lifts it."""

    model_config = ConfigDict(frozen=True)

    field: str
    value: Any
    safe: Any
    blocks: bool  # True: AWS refuses whatever the resource holds; False: only while it holds data
    data: str | None = None
    message: str


def held_guards(
    guards: Sequence[DestroyGuard], config: Mapping[str, Any], defaults: Mapping[str, Any]
) -> list[HeldGuard]:
    """The guards of ``guards`` that hold for ``config`` (a field left unset has its default)."""
    held: list[HeldGuard] = []
    for guard in guards:
        value = config.get(guard.field, defaults.get(guard.field))
        if value == guard.safe:
            continue
        held.append(
            HeldGuard(
                field=guard.field,
                value=value,
                safe=guard.safe,
                blocks=guard.when == "always",
                data=guard.data,
                message=guard.message,
            )
        )
    return held


def lifted_config(config: Mapping[str, Any], held: Sequence[HeldGuard]) -> dict[str, Any]:
    """``config`` with exactly the held guards set to their safe values (the prepare change)."""
    out = dict(config)
    for guard in held:
        out[guard.field] = guard.safe
    return out


def guard_denial(held: Sequence[HeldGuard]) -> Denial | None:
    """Why a destroy is refused now (a guard that always blocks holds): the guards to prepare."""
    blocking = [g.model_dump(mode="json") for g in held if g.blocks]
    return denial("guards_hold", guards=blocking) if blocking else None


# -- the destroy run's preflight ----------------------------------------------------------
#
# Run over the saved destroy plan before anything is deleted: for every resource the plan
# deletes, the attribute (as Terraform last read it, ``change.before``) that makes AWS refuse.
# ``flag``: refused while the attribute is true. ``data``: refused while the attribute is false
# and the resource holds data, which the caller probes (boto3 locally, the AWS CLI in Actions).
# The refusals are typed; the runner that reports them writes their words
# (``core.adapters.preflight_text`` for the local runner, the CI helper in Actions).


class Protection(BaseModel):
    model_config = ConfigDict(frozen=True)

    attribute: str
    kind: Literal["flag", "data"]
    data: str | None = None  # what the resource holds: "objects" | "images"
    name_attribute: str | None = None  # the attribute naming it for the probe


PROTECTIONS: dict[str, Protection] = {
    "aws_s3_bucket": Protection(attribute="force_destroy", kind="data", data="objects", name_attribute="bucket"),
    "aws_ecr_repository": Protection(attribute="force_delete", kind="data", data="images", name_attribute="name"),
    "aws_dynamodb_table": Protection(attribute="deletion_protection_enabled", kind="flag"),
    "aws_db_instance": Protection(attribute="deletion_protection", kind="flag"),
    "aws_instance": Protection(attribute="disable_api_termination", kind="flag"),
}


class Refusal(BaseModel):
    """One resource AWS would refuse to delete: ``kind`` ``flag``, its ``attribute`` is on;
    ``data``, it holds ``data`` and its ``attribute`` is off."""

    model_config = ConfigDict(frozen=True)

    address: str
    resource_type: str
    attribute: str
    kind: Literal["flag", "data"]
    data: str | None = None


def data_probes(plan: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(data, name)`` pairs the caller must probe (does the bucket hold objects?)."""
    out: list[tuple[str, str]] = []
    for _address, _type, rule, before in _deleted(plan):
        if rule.kind == "data" and not before.get(rule.attribute) and rule.name_attribute and rule.data:
            name = before.get(rule.name_attribute)
            if isinstance(name, str) and name:
                out.append((rule.data, name))
    return out


def preflight(plan: Mapping[str, Any], holding: Sequence[tuple[str, str]]) -> list[Refusal]:
    """What AWS would refuse in the destroy ``plan``; ``holding`` lists the ``(data, name)``
    probes that found data (from ``data_probes``). Empty: the destroy may go on."""
    held = {(d, n) for d, n in holding}
    refusals: list[Refusal] = []
    for address, rtype, rule, before in _deleted(plan):
        value = before.get(rule.attribute)
        flagged = rule.kind == "flag" and value is True
        holding_data = rule.kind == "data" and not value and (rule.data, before.get(rule.name_attribute or "")) in held
        if flagged or holding_data:
            refusals.append(
                Refusal(address=address, resource_type=rtype, attribute=rule.attribute, kind=rule.kind, data=rule.data)
            )
    return refusals


def _deleted(plan: Mapping[str, Any]) -> list[tuple[str, str, Protection, Mapping[str, Any]]]:
    out: list[tuple[str, str, Protection, Mapping[str, Any]]] = []
    for rc in plan.get("resource_changes", []) or []:
        rtype = str(rc.get("type"))
        rule = PROTECTIONS.get(rtype)
        change = rc.get("change") or {}
        if rule is None or "delete" not in (change.get("actions") or []) or rc.get("mode") == "data":
            continue
        before = change.get("before")
        out.append((str(rc.get("address")), rtype, rule, before if isinstance(before, Mapping) else {}))
    return out
