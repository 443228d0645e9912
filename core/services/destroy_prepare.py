"""Prepare destroy: the reviewed change that lifts a request's held destroy guards.

A destroy guard that always blocks (deletion or termination protection) would make AWS refuse
the delete half-way, so the destroy is refused while it holds (``core.services.destroy``). This
change commits the request's file with exactly the held guard fields set to their safe values on
``prepare/<id>``, opens its PR and plans it; the request then follows that PR like any change
(approve, merge, apply), and Destroy is offered once it is applied.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.domain.destroy import prepare_branch
from core.domain.events import NewEvent, Reason
from core.domain.lifecycle import derive_status
from core.domain.operation import BranchStep, PrepareDestroyOp
from core.domain.request import PreparedDestroy, PullRequestRef, Request
from core.domain.status import Status
from core.domain.timeline import TimelineCode
from core.ports.code_host import CodeHostError
from core.ports.notifier import Transition
from core.services import pr_text
from core.services.command_base import repo_ref
from core.services.commands import digest
from core.services.operations import operation_of

if TYPE_CHECKING:
    from core.domain.policy import Actor
    from core.services.dispatching import Dispatching as RequestService


def prepare_destroy(svc: RequestService, request: Request, key: str, actor: Actor, source: str) -> Request:
    """Commit the request's file with its held guards lifted on ``prepare/<id>``, open its PR
    and plan it; the request then follows that PR like any change (approve, merge, apply).
    Only the guard fields change, to their safe values (``registry.validate(lifting=...)``
    lets exactly those pass the prod constraints)."""
    rid, repo = request.id, repo_ref(request)
    base = request.target_base or "main"
    branch = prepare_branch(rid)
    before = derive_status(request)
    steps = operation_of(request, PrepareDestroyOp, key).steps
    fields: dict[str, Any] = dict(steps.fields)
    if steps.commit is None:
        validated = svc._registry.validate(
            request.module,
            {**request.config, **fields},
            request.environment,
            prod=request.is_prod,
            project=request.project,
            lifting=sorted(fields),
        )
        if not validated.ok:
            from module_registry.errors import ConfigRejected

            raise ConfigRejected(list(validated.errors))
        config = dict(validated.config)
        files = svc._render_request(request, config, lifting=sorted(fields))
        if steps.branch is None:
            head = svc._code_host.branch_head(repo, base)
            if head is None:
                raise CodeHostError(f"the base branch {base} of {repo.full_name} does not exist")
            svc._code_host.create_branch(repo, branch, head)
            started = BranchStep(base=base, head=head)
            request = svc._ops.record(rid, PrepareDestroyOp, key, lambda op: op.steps.set(branch=started))
        known = operation_of(request, PrepareDestroyOp, key).steps.branch
        assert known is not None
        parent = known.head
        message = f"tfpilot: prepare destroy of {rid}: {', '.join(sorted(fields))} lifted"
        request, sha = svc._commit_step(
            request, PrepareDestroyOp, key, branch=branch, files=files, parent=parent, message=message
        )
        request = svc._ops.record(
            rid, PrepareDestroyOp, key, lambda op: op.steps.set(commit=sha, config=config, files=files)
        )
    steps = operation_of(request, PrepareDestroyOp, key).steps
    if steps.pr is None:
        info = svc._code_host.open_pull_request(
            repo,
            head=branch,
            base=base,
            title=f"TfPilot: prepare destroy of {request.module} {rid} ({request.project}/{request.environment})",
            body=pr_text.prepare_body(request, fields, who=actor.name or actor.id),
            labels=pr_text.labels(request, "prepare-destroy"),
        )
        now = svc._clock.now()
        sha, config, files = steps.commit or "", steps.config or {}, steps.files or {}

        def switched(r: Request) -> None:
            # The request now follows the prepare PR: plan, approval, merge and apply as for
            # any change; the earlier apply is history (the audit trail keeps it).
            r.prepared_destroy = PreparedDestroy(
                fields=fields,
                previous={f: r.config.get(f) for f in fields},
                by=actor.id,
                at=now,
                pr_number=info.number,
                pr_url=info.url,
            )
            r.config, r.revision, r.commit_sha, r.branch_name = config, r.revision + 1, sha, branch
            r.render = {"files": files, "digest": digest(files)}
            r.pr = PullRequestRef(number=info.number, url=info.url, open=True, head_sha=sha)
            r.approval, r.plan, r.cost, r.plan_run = None, None, None, None
            r.merged_sha, r.apply_run, r.applied_at, r.apply_triggered_at = None, None, None, None
            # Prepared after a destroy the run refused: that attempt ended (its operation keeps
            # the reason, the audit trail the run); the request now follows the prepare PR.
            r.destroy_run, r.destroy_triggered_at = None, None

        requested = NewEvent(
            name="destroy_prepare_requested",
            actor=actor.id,
            source=source,
            data={"fields": fields, "pr": info.number, "url": info.url},
        )
        request = svc._ops.record(
            rid,
            PrepareDestroyOp,
            key,
            lambda op: op.steps.set(pr=info.number),
            change=switched,
            timeline=TimelineCode.PREPARE_DESTROY_OPENED,
            actor=actor.id,
            events=[requested],
        )
    request = svc._dispatch(request, PrepareDestroyOp, key, "plan", ref=branch, actor=actor.id)
    lifted = [[f, v] for f, v in sorted(fields.items())]

    def told(_w: Status, r: Request) -> list[Transition]:
        pr = r.prepared_destroy
        return [
            Transition(
                event="destroy_prepare",
                previous_status=before.value,
                status=derive_status(r).value,
                actor=actor.id,
                reasons=(
                    Reason(code="destroy_prepare", data={"number": pr.pr_number if pr else "?", "lifted": lifted}),
                ),
                run_url=pr.pr_url if pr else None,
            )
        ]

    return svc._ops.record(rid, PrepareDestroyOp, key, finish=True, tell=told)
