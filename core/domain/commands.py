"""Commands on the request aggregate: each changes a ``Request`` and returns the events it commits.

A command service (``core.services``) does the I/O (GitHub, Actions) and then calls one of
these inside the store's compare-and-swap (``CommandBase._command``): the state change and its
events are decided here, without I/O, from the request as it stands in the write (so a webhook
folded meanwhile is seen, and the notice says a move only when this write made it). The
operation's own bookkeeping (its steps, lease, finish) stays ``Operations``'.

Each command reads the status before it changes anything: that is the status of the version
the write replaces, what ``moved_only`` notices compare with.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.domain.events import NewEvent, Reason, Transition, notice
from core.domain.lifecycle import derive_status
from core.domain.operation import CreateOp, CreateSteps, Lease
from core.domain.protection import ApprovalStanding
from core.domain.request import Approval, CleanupPr, PullRequestRef, Request, RunRef
from core.domain.status import Status
from core.domain.timeline import TimelineCode, step_of
from core.domain.workflows import RequestRunKind


def transition(
    request: Request,
    event: str,
    before: Status | None,
    actor: str | None,
    *,
    run: RunRef | None = None,
    moved_only: bool = False,
    **detail: Any,
) -> Transition | None:
    """What to tell people of ``event`` on the changed ``request``; None when nothing: with
    ``moved_only``, only when this write moved the status (a webhook folded first, GitHub
    reporting the merge or the run before our call returned, has announced the move already,
    and saying it twice would post two thread replies). ``detail`` fills the transition's
    optional fields (approval, blocked...)."""
    after = derive_status(request)
    if moved_only and before is not None and before is after:
        return None
    return Transition(
        event=event,
        previous_status=before.value if before else None,
        status=after.value,
        actor=actor,
        run_url=run.url if run else None,
        **detail,
    )


def _told(*transitions: Transition | None) -> list[NewEvent]:
    return [notice(t) for t in transitions if t is not None]


def record_approval(
    request: Request,
    *,
    sha: str,
    approver: str,
    via: str,
    standing: ApprovalStanding,
    actor: str,
    source: str,
    now: datetime,
) -> list[NewEvent]:
    """``approver`` approved commit ``sha`` (``via`` ``github``: their review; ``tfpilot``: recorded
    by the app). Approvers of the same commit add up; an earlier approval of it that satisfied the
    base branch's protection keeps it satisfied. Tells the move to approved, or, when the status
    did not move, that this approval does not count (the approver must learn it anyway)."""
    before = derive_status(request)
    current = request.approval
    same = current is not None and current.approved and current.approved_sha == sha
    approvers = list(current.approvers) if same and current is not None else []
    if approver not in approvers:
        approvers.append(approver)
    satisfies = standing.satisfies
    if same and current is not None and current.satisfies:
        satisfies = True
    request.approval = Approval(
        approved=True, approvers=approvers, approved_sha=sha, approved_at=now, source=via, satisfies=satisfies
    )
    approved = NewEvent(
        name="approved",
        actor=actor,
        source=source,
        data={"sha": sha, "approver": approver, "via": via, "satisfies": standing.satisfies},
    )
    told = transition(request, "approved", before, actor, moved_only=True, approval=standing)
    if told is None and standing.satisfies is False:
        told = transition(request, "approval_not_counted", None, actor, approval=standing)
    return [approved, *_told(told)]


def record_merge(
    request: Request, *, number: int, sha: str | None, actor: str, source: str, now: datetime
) -> list[NewEvent]:
    """The PR ``number`` was squash-merged as ``sha``: the request's PR is merged and closed."""
    before = derive_status(request)
    pr = request.pr or PullRequestRef(number=number)
    request.pr = pr.model_copy(
        update={"merged": True, "open": False, "merged_sha": sha, "merged_at": now, "closed_at": now}
    )
    request.merged_sha = sha
    merged = NewEvent(name="merged", actor=actor, source=source, data={"number": number, "sha": sha})
    return [merged, *_told(transition(request, "merged", before, actor, moved_only=True))]


def record_dispatch(request: Request, kind: RequestRunKind, run: RunRef, now: datetime) -> None:
    """The ``kind`` workflow was dispatched as ``run``. A webhook of the same run that outran this
    write keeps what it said (we add when we dispatched); a new plan clears the old plan's output,
    a new apply or destroy its previous end. The caller's events say it (they differ by command)."""
    known = request.run(kind)
    outran = known is not None and run.run_id is not None and known.run_id == run.run_id
    if known is not None and outran:
        request.set_run(kind, known.model_copy(update={"dispatched_at": now, "workflow": run.workflow}))
    else:
        request.set_run(kind, run)
    if kind == "plan" and not outran:
        request.plan, request.cost = None, None
    elif kind == "apply":
        request.apply_triggered_at = now
        request.applied_at = request.applied_at if outran else None
    elif kind == "destroy":
        request.destroy_triggered_at = now
        request.destroyed_at = request.destroyed_at if outran else None


def record_config_update(
    request: Request,
    *,
    config: dict[str, Any],
    revision: int,
    sha: str,
    files: dict[str, str],
    files_digest: str,
    actor: str,
    source: str,
) -> list[NewEvent]:
    """The new ``config`` was committed as ``sha`` (revision ``revision``): the PR's head moves,
    the old plan is void, and an approval of the old commit no longer holds."""
    was_approved = bool(request.approval and request.approval.approved)
    request.config, request.revision, request.commit_sha = config, revision, sha
    request.render = {"files": files, "digest": files_digest}
    request.target_files = sorted(set(request.target_files) | set(files))
    if request.pr is not None:
        request.pr = request.pr.model_copy(update={"head_sha": sha})
    request.plan, request.cost, request.plan_run = None, None, None
    events = [NewEvent(name="config_updated", actor=actor, source=source, data={"revision": revision, "commit": sha})]
    if was_approved and request.approval is not None:
        request.approval = request.approval.model_copy(update={"approved": False, "approvers": []})
        events.append(
            NewEvent(
                name="approval_voided",
                actor=actor,
                source=source,
                data={"reason": "config updated", "headSha": sha},
            )
        )
    return events


def begin_destroy(
    request: Request,
    removal: CleanupPr,
    *,
    files: list[str],
    branch: str,
    base: str,
    before: Status,
    actor: str,
    source: str,
) -> list[NewEvent]:
    """The destroy's removal PR (``branch`` deleting ``files``, into ``base``) is open: the request holds it,
    and people are told the destroy is requested and how it goes on. ``before`` is the status
    when the destroy began (the move told is the destroy's, not this write's)."""
    request.cleanup_pr = removal
    requested = NewEvent(
        name="destroy_requested",
        actor=actor,
        source=source,
        data={"removalPr": removal.number, "url": removal.url, "branch": branch, "files": files},
    )
    told = Transition(
        event="destroy_requested",
        previous_status=before.value,
        status=derive_status(request).value,
        actor=actor,
        reasons=(
            Reason(code="removal_destroy_requested", data={"number": removal.number, "files": files, "base": base}),
        ),
        run_url=removal.url,
    )
    return [requested, notice(told)]


def record_removal_merged(request: Request, *, number: int, sha: str | None, actor: str, source: str) -> list[NewEvent]:
    """The destroy succeeded and its removal PR ``number`` is merged (as ``sha``): the code no
    longer declares what the state no longer holds."""
    pr = request.cleanup_pr
    if pr is not None and pr.number == number:
        request.cleanup_pr = pr.model_copy(update={"merged": True, "open": False, "status": "merged"})
    return [NewEvent(name="removal_pr_merged", actor=actor, source=source, data={"number": number, "sha": sha})]


def record_created(
    request: Request, *, key: str, actor: str, source: str, lease: Lease, files: list[str], now: datetime
) -> list[NewEvent]:
    """A new request: its create operation begun (under ``lease``, remembering where it came from
    for the audit events of steps a resume may finish), its first timeline line, and the
    ``request_created`` event its first write commits."""
    request.operations.append(
        CreateOp(key=key, started_at=now, actor=actor, steps=CreateSteps(lease=lease, source=source))
    )
    request.timeline.append(step_of(TimelineCode.REQUEST_CREATED, now, actor=actor))
    data = {
        "project": request.project,
        "environment": request.environment,
        "module": request.module,
        "idempotencyKey": key,
        "files": sorted(files),
    }
    return [NewEvent(name="request_created", actor=actor, source=source, data=data)]


def record_commit(request: Request, sha: str) -> list[NewEvent]:
    """The request's Terraform was committed as ``sha`` on its branch (no event: the PR says it)."""
    request.commit_sha = sha
    return []


def record_pr_opened(request: Request, pr: PullRequestRef, *, actor: str | None, source: str) -> list[NewEvent]:
    """The request's pull request is open: the request holds it (status planning)."""
    request.pr = pr
    return [NewEvent(name="pr_opened", actor=actor, source=source, data={"number": pr.number, "url": pr.url})]
