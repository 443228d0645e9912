"""``RequestService``: every change a person asks for, checked, recorded, and done once.

create, update_config, approve, merge, apply, destroy and replan each go through the one
``Gate`` (``core.services.gate``: a refusal is logged as ``<action>_blocked`` and raised as
``PermissionDenied``; ``authorize`` lets a caller ask it before opening a form), then run as a
recorded operation (``core.services.operations``): every step's result is stored before the
next step starts, so a crash or a retry resumes where the work stopped and never opens a second
branch, PR or workflow run for one intent. Status is never written by hand: it is derived from
the facts recorded here and by ``SyncService``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from core.domain.destroy import guard_refusal, is_legacy, waits_on_run
from core.domain.errors import RequestAlreadyExists, RequestNotFound
from core.domain.ids import request_branch
from core.domain.lifecycle import derive_status, run_failed
from core.domain.policy import Action, Actor, Policy, plans_on_base
from core.domain.request import (
    Approval,
    Operation,
    PullRequestRef,
    Request,
    Requester,
    RunRef,
    TimelineStep,
)
from core.domain.status import Status
from core.domain.workflows import RunKind, WorkflowNames
from core.ports.audit import AuditLog
from core.ports.clock import Clock
from core.ports.code_host import CodeHost, CodeHostError, MergeBlocked, RepoRef, RunInfo
from core.ports.notifier import Notifier, Transition
from core.ports.request_store import RequestStore
from core.services import pr_text
from core.services.approval_check import standing_of
from core.services.commands import CreateRequest, actor_of, digest
from core.services.destroy import DestroyFlow
from core.services.destroy_legacy import LegacyDestroy, awaiting_cleanup
from core.services.fold import DISPATCH_SKEW
from core.services.gate import NOT_ALLOWED, Gate
from core.services.operations import Begun, Operations, Start, pending
from core.services.registry_view import ProjectsView, RegistryView, Renderer
from module_registry.errors import ConfigRejected
from module_registry.result import FieldError

if TYPE_CHECKING:
    from module_registry.catalogue import Registry


def registry_renderer(registry: Registry, *, module_sources: str = "registry") -> Renderer:
    """The default renderer: ``module_registry.render`` over the given registry.

    ``module_sources="repo"`` (the local forge) renders TfPilot's in-repo modules where it ships
    one (``modules/<id>``) and the registry module elsewhere."""

    def render(
        *,
        request_id: str,
        project: str,
        environment: str,
        module: str,
        config: dict[str, Any],
        env_path: str,
        requester: str,
        prod: bool,
    ) -> dict[str, str]:
        from module_registry import render as registry_render

        data = registry_render.RenderInput(
            request_id=request_id,
            project=project,
            environment=environment,
            module=module,
            config=config,
            env_path=env_path,
            requester=requester,
            prod=prod,
            module_sources=module_sources,
        )
        files: dict[str, str] = registry_render.render(data, registry)
        return files

    return render


class RequestService:
    def __init__(
        self,
        store: RequestStore,
        audit: AuditLog,
        code_host: CodeHost,
        registry: RegistryView,
        projects: ProjectsView,
        notifier: Notifier,
        clock: Clock,
        policy: Policy,
        workflows: WorkflowNames,
        *,
        renderer: Renderer | None = None,
        refresh: Callable[[str], object] | None = None,
    ) -> None:
        self._store = store
        self._audit = audit
        self._code_host = code_host
        self._registry = registry
        self._projects = projects
        self._notifier = notifier
        self._clock = clock
        self._gate = Gate(policy, audit)
        self._workflows = workflows
        # Without a renderer the registry must be the real one: rendering needs its definitions.
        self._render = renderer or registry_renderer(cast("Registry", registry))
        self._ops = Operations(store, clock)
        self._destroy_flow = DestroyFlow(self)
        self._legacy_destroy = LegacyDestroy(self)
        # A full refresh from the code host (the composition root passes ``SyncService.sync``):
        # ``resume`` calls it for an operation that waits on the host, in case its webhook was lost.
        self.refresh = refresh

    # -- create ----------------------------------------------------------------------------

    def preview(self, cmd: CreateRequest) -> dict[str, str]:
        """The exact files ``create(cmd)`` would commit (validated, nothing written)."""
        target = self._projects.target(cmd.project, cmd.environment)
        config = self._validated(cmd.module, cmd.config, cmd.environment, target, cmd.project)
        return self._render_files(
            cmd.resolved_request_id(),
            cmd.project,
            cmd.environment,
            cmd.module,
            config,
            target.env_path,
            cmd.requester.email or cmd.requester.id,
            bool(target.prod),
        )

    def create_refusal(self, requester: Requester, *, prod: bool) -> str | None:
        """Why ``requester`` may not open a request (in prod when ``prod``), or None when they may:
        the check ``create`` makes, asked before the request is collected (nothing recorded)."""
        decision = self._gate.decide_create(prod, actor_of(requester))
        return None if decision.allowed else (decision.reason or NOT_ALLOWED)

    def create(self, cmd: CreateRequest) -> Request:
        """Validate, save, then branch, commit, PR, plan; a retry with the same key resumes."""
        rid, key, actor = cmd.resolved_request_id(), cmd.key(), cmd.actor()
        existing = self._existing(rid, key, cmd)
        if existing is not None:
            return self._continue_create(existing, token=self._ops.new_token())
        target = self._projects.target(cmd.project, cmd.environment)
        prod = bool(target.prod)
        self._gate.require_create(
            rid, prod, actor, cmd.source, {"project": cmd.project, "environment": cmd.environment, "module": cmd.module}
        )
        config = self._validated(cmd.module, cmd.config, cmd.environment, target, cmd.project)
        files = self._render_files(
            rid,
            cmd.project,
            cmd.environment,
            cmd.module,
            config,
            target.env_path,
            cmd.requester.email or cmd.requester.id,
            prod,
        )
        now = self._clock.now()
        token = self._ops.new_token()
        request = Request(
            id=rid,
            project=cmd.project,
            environment=cmd.environment,
            module=cmd.module,
            received_at=now,
            updated_at=now,
            requester=cmd.requester,
            idempotency_key=key,
            slack=cmd.slack,
            config=config,
            prod=prod,
            target_owner=target.owner,
            target_repo=target.repo,
            target_base=target.base_branch,
            target_env_path=target.env_path,
            target_files=sorted(files),
            branch_name=request_branch(rid),
            render={"files": files, "digest": digest(files)},
            status_derived_at=now,
            chat_session_id=cmd.chat_session_id,
            destroy_guards=self._destroy_flow.definition_guards(cmd.module),
        )
        request.operations.append(
            Operation(
                kind="create",
                key=key,
                started_at=now,
                actor=actor.id,
                # Where the request came from, for the audit events of steps a resume may finish.
                steps={"lease": self._ops.lease_for(token), "source": cmd.source},
            )
        )
        request.timeline.append(TimelineStep(step="Request created", at=now, actor=actor.id))
        try:
            stored = self._store.create(request)
        except RequestAlreadyExists:
            raced = self._existing(rid, key, cmd)
            if raced is None:  # pragma: no cover - the id exists but vanished again
                raise
            return self._continue_create(raced, token=self._ops.new_token())
        self._audit.record(
            rid,
            "request_created",
            actor=actor.id,
            source=cmd.source,
            data={
                "project": cmd.project,
                "environment": cmd.environment,
                "module": cmd.module,
                "idempotencyKey": key,
                "files": sorted(files),
            },
        )
        return self._continue_create(stored, token=token)

    def _existing(self, rid: str, key: str, cmd: CreateRequest) -> Request | None:
        try:
            found = self._store.get(rid)
        except RequestNotFound:
            return None
        same_requester = found.requester is not None and found.requester.id == cmd.requester.id
        if found.idempotency_key != key or not same_requester:
            raise RequestAlreadyExists(rid)
        return found

    def _continue_create(self, request: Request, *, token: str) -> Request:
        key = request.idempotency_key or ""
        op = request.operation("create", key)
        if op is None or op.completed_at is not None:
            return request
        begun = self._ops.begin(request.id, "create", key, token, actor=op.actor)
        if begun.start is not Start.GO:
            return begun.request
        return self._guard(begun, "create", lambda: self._run_create(begun.request, key))

    def _run_create(self, request: Request, key: str) -> Request:
        rid, repo = request.id, _repo(request)
        branch, base = request.branch_name or request_branch(rid), request.target_base or "main"
        actor = _op(request, "create", key).actor
        steps = _op(request, "create", key).steps
        source = str(steps.get("source") or "api")
        # Whether the PR's ``opened`` webhook folded the PR first (and so told the thread).
        webhook_told: dict[str, bool] = {}
        if "branch" not in steps:
            base_sha = self._code_host.branch_head(repo, base)
            if base_sha is None:
                raise CodeHostError(f"base branch {base!r} not found in {repo.full_name}", status=404)
            head = self._code_host.create_branch(repo, branch, base_sha)
            request = self._ops.record(
                rid, "create", key, {"branch": {"base": base_sha, "head": head}}, timeline="Branch created", actor=actor
            )
            self._audit.record(
                rid, "branch_created", actor=actor, source=source, data={"branch": branch, "from": base_sha}
            )
            steps = _op(request, "create", key).steps
        if "commit" not in steps:
            files = self._files_of(request)
            request, sha = self._commit_step(
                request,
                "create",
                key,
                branch=branch,
                files=files,
                parent=steps["branch"]["head"],
                message=pr_text.commit_message(request, revision=1),
            )
            request = self._ops.record(
                rid,
                "create",
                key,
                {"commit": sha},
                change=lambda r: _set(r, commit_sha=sha),
                timeline="Terraform committed",
                actor=actor,
            )
            steps = _op(request, "create", key).steps
        if "pr" not in steps:
            info = self._code_host.open_pull_request(
                repo,
                head=branch,
                base=base,
                title=pr_text.title(request),
                body=pr_text.body(request),
                labels=pr_text.labels(request),
            )
            pr = PullRequestRef(
                number=info.number,
                url=info.url,
                open=info.state == "open",
                merged=info.merged,
                head_sha=info.head_sha or steps["commit"],
            )
            seen: dict[str, Status] = {}
            request = self._ops.record(
                rid,
                "create",
                key,
                {"pr": info.number},
                change=lambda r: _set_pr(r, pr),
                timeline="Pull request opened",
                actor=actor,
                observed=seen,
            )
            if seen.get("before") is Status.PLANNING:
                # The webhook recorded the open PR (request_created -> planning) before this write
                # and posted that transition's reply: this create must not post a second one.
                webhook_told["announced"] = True
            self._audit.record(
                rid, "pr_opened", actor=actor, source=source, data={"number": info.number, "url": info.url}
            )
        request = self._dispatch(request, "create", key, "plan", ref=branch, actor=actor)
        request = self._ops.record(rid, "create", key, webhook_told, finish=True)
        self._audit.record(rid, "plan_dispatched", actor=actor, source=source, data=_run_data(request.plan_run))
        if not _op(request, "create", key).steps.get("announced"):
            self._notify(request, "created", None, actor, run=request.plan_run)
        return request

    # -- update ----------------------------------------------------------------------------

    def update_config(
        self, request_id: str, config: dict[str, Any], actor: Actor, *, key: str | None = None, source: str = "slack"
    ) -> Request:
        """A new commit with the new config on the request's branch, then a fresh plan."""
        request = self._store.get(request_id)
        key = key or f"update:{request.revision}:{digest(config)[:16]}"
        if request.operation("update", key) is None:
            self._gate.require(Action.UPDATE, request, actor, source)  # refuse before saying anything of the config
        validated = self._validated(request.module, config, request.environment, _TargetOf(request), request.project)

        def init(current: Request) -> dict[str, Any]:
            plan = current.plan_run.run_id if current.plan_run else None
            return {"config": validated, "revision": current.revision + 1, "plan_previous": plan}

        return self._operate(
            request_id,
            Action.UPDATE,
            key,
            actor,
            source,
            lambda b: self._run_update(b.request, b.key, actor, source),
            init=init,
        )

    def _run_update(self, request: Request, key: str, actor: Actor, source: str) -> Request:
        rid, repo = request.id, _repo(request)
        branch = request.branch_name or request_branch(rid)
        before = derive_status(request)
        steps = _op(request, "update", key).steps
        config, revision = steps["config"], steps["revision"]
        if "commit" not in steps:
            files = self._render_files(
                rid,
                request.project,
                request.environment,
                request.module,
                config,
                request.target_env_path or "",
                _requester_of(request),
                request.prod,
            )
            # The parent is the branch as it is now (someone may have pushed since our last look).
            parent = steps.get("commit_attempt") or self._code_host.branch_head(repo, branch)
            if parent is None:
                raise CodeHostError(f"branch {branch!r} no longer exists in {repo.full_name}", status=404)
            request, sha = self._commit_step(
                request,
                "update",
                key,
                branch=branch,
                files=files,
                parent=parent,
                message=pr_text.commit_message(request, revision=revision),
            )

            def change(r: Request) -> None:
                was_approved = bool(r.approval and r.approval.approved)
                r.config, r.revision, r.commit_sha = config, revision, sha
                r.render = {"files": files, "digest": digest(files)}
                r.target_files = sorted(set(r.target_files) | set(files))
                if r.pr is not None:
                    r.pr = r.pr.model_copy(update={"head_sha": sha})
                r.plan, r.cost, r.plan_run = None, None, None
                if was_approved and r.approval is not None:
                    r.approval = r.approval.model_copy(update={"approved": False, "approvers": []})

            was_approved = bool(request.approval and request.approval.approved)
            request = self._ops.record(
                rid,
                "update",
                key,
                {"commit": sha},
                change=change,
                timeline=f"Config updated (revision {revision})",
                actor=actor.id,
            )
            self._audit.record(
                rid, "config_updated", actor=actor.id, source=source, data={"revision": revision, "commit": sha}
            )
            if was_approved:
                self._audit.record(
                    rid,
                    "approval_voided",
                    actor=actor.id,
                    source=source,
                    data={"reason": "config updated", "headSha": sha},
                )
        request = self._dispatch(request, "update", key, "plan", ref=branch, actor=actor.id)
        request = self._ops.record(rid, "update", key, {}, finish=True)
        self._audit.record(rid, "plan_dispatched", actor=actor.id, source=source, data=_run_data(request.plan_run))
        self._notify(request, "updated", before, actor.id, run=request.plan_run)
        return request

    # -- approve / merge -------------------------------------------------------------------

    def approve(
        self,
        request_id: str,
        actor: Actor,
        *,
        key: str | None = None,
        user_token: str | None = None,
        source: str = "slack",
    ) -> Request:
        """Approve the PR's current head: as the user's review when linked, else recorded + comment."""
        request = self._store.get(request_id)
        head = request.pr.head_sha if request.pr else None
        # A linked approval after a recorded one (which the protection did not count) is new.
        key = key or f"approve:{actor.id}:{head}" + (":review" if user_token else "")

        def init(current: Request) -> dict[str, Any]:
            return {"sha": current.pr.head_sha if current.pr else None, "mode": "review" if user_token else "comment"}

        return self._operate(
            request_id,
            Action.APPROVE,
            key,
            actor,
            source,
            lambda b: self._run_approve(b.request, b.key, actor, user_token, source),
            init=init,
        )

    def _run_approve(self, request: Request, key: str, actor: Actor, user_token: str | None, source: str) -> Request:
        rid, repo = request.id, _repo(request)
        before = derive_status(request)
        steps = _op(request, "approve", key).steps
        sha: str = steps["sha"] or ""
        number = request.pr.number if request.pr and request.pr.number else 0
        who_name = actor.name or actor.email or actor.id
        mode = steps.get("mode", "comment")
        if mode == "review" and user_token is None and "review" not in steps:
            mode = "comment"  # resumed without the user's token: fall back to the app's record
        if mode == "review":
            if "review" not in steps:
                review = None
                if "review_started" in steps:
                    review = self._find_review(repo, number, sha, actor)
                else:
                    request = self._ops.record(rid, "approve", key, {"review_started": self._clock.now().isoformat()})
                if review is None:
                    review = self._code_host.submit_review(
                        repo,
                        number,
                        commit_sha=sha,
                        body=pr_text.review_body(request, who=who_name),
                        user_token=user_token,
                    )
                login = review.user_login
                request = self._ops.record(rid, "approve", key, {"review": {"id": review.id, "login": login}})
            who, approval_source = _op(request, "approve", key).steps["review"]["login"], "github"
        else:
            if "comment" not in steps:
                # At most once: a lost comment is harmless, a duplicate is noise.
                if "comment_started" not in steps:
                    request = self._ops.record(rid, "approve", key, {"comment_started": True})
                    self._code_host.comment(repo, number, pr_text.approval_comment(request, who=who_name, sha=sha))
                request = self._ops.record(rid, "approve", key, {"comment": True})
            who, approval_source = actor.id, "tfpilot"
        base = request.target_base or "main"
        standing = standing_of(self._code_host, repo, base, number, sha, via_review=approval_source == "github")
        now = self._clock.now()

        def change(r: Request) -> None:
            current = r.approval
            same = current is not None and current.approved and current.approved_sha == sha
            approvers = list(current.approvers) if same and current is not None else []
            if who not in approvers:
                approvers.append(who)
            satisfies = standing.satisfies
            if same and current is not None and current.satisfies:
                satisfies = True  # an earlier approval of this commit already satisfies it
            r.approval = Approval(
                approved=True,
                approvers=approvers,
                approved_sha=sha,
                approved_at=now,
                source=approval_source,
                satisfies=satisfies,
            )

        seen: dict[str, Status] = {}
        request = self._ops.record(
            rid,
            "approve",
            key,
            {"standing": standing.model_dump(mode="json")},
            change=change,
            finish=True,
            timeline=f"Approved by {who_name}",
            actor=actor.id,
            observed=seen,
        )
        self._audit.record(
            rid,
            "approved",
            actor=actor.id,
            source=source,
            data={"sha": sha, "approver": who, "via": approval_source, "satisfies": standing.satisfies},
        )
        told = self._notify(
            request, "approved", seen.get("before", before), actor.id, moved_only=True, approval=standing
        )
        if not told and standing.satisfies is False:
            # The status did not move (another approval, or a webhook, got there first), but
            # this approver must still learn that their approval will not let the PR merge.
            self._notify(request, "approval_not_counted", None, actor.id, approval=standing)
        return request

    def _find_review(self, repo: RepoRef, number: int, sha: str, actor: Actor) -> Any:
        for review in self._code_host.list_reviews(repo, number):
            same_user = actor.github_login is None or review.user_login.lower() == actor.github_login.lower()
            if review.state.upper() == "APPROVED" and review.commit_id == sha and same_user:
                return review
        return None

    def merge(self, request_id: str, actor: Actor, *, key: str | None = None, source: str = "slack") -> Request:
        """Squash-merge the PR, only at the approved commit."""
        request = self._store.get(request_id)
        sha = (request.approval.approved_sha if request.approval else None) or (
            request.pr.head_sha if request.pr else None
        )
        key = key or f"merge:{sha}"

        def init(current: Request) -> dict[str, Any]:
            approved = current.approval.approved_sha if current.approval else None
            return {"sha": approved or (current.pr.head_sha if current.pr else None)}

        return self._operate(
            request_id,
            Action.MERGE,
            key,
            actor,
            source,
            lambda b: self._run_merge(b.request, b.key, actor, source),
            init=init,
        )

    def _run_merge(self, request: Request, key: str, actor: Actor, source: str) -> Request:
        rid, repo = request.id, _repo(request)
        before = derive_status(request)
        sha = _op(request, "merge", key).steps["sha"]
        number = request.pr.number if request.pr and request.pr.number else 0
        try:
            result = self._code_host.merge_pull_request(repo, number, sha=sha, title=pr_text.title(request))
        except MergeBlocked as blocked:
            self._audit.record(
                rid,
                "merge_blocked",
                actor=actor.id,
                source=source,
                data={"number": number, "reason": blocked.reason, "message": str(blocked)[:500]},
            )
            self._notify(
                request,
                "merge_blocked",
                None,
                actor.id,
                message=str(blocked),
                blocked=blocked.reason,
                required_approvals=blocked.required_approvals,
            )
            raise
        if not result.merged:
            self._audit.record(rid, "merge_failed", actor=actor.id, source=source, data={"message": result.message})
            raise CodeHostError(f"GitHub did not merge PR #{number}: {result.message or 'no reason given'}")
        now = self._clock.now()

        def change(r: Request) -> None:
            pr = r.pr or PullRequestRef(number=number)
            r.pr = pr.model_copy(
                update={"merged": True, "open": False, "merged_sha": result.sha, "merged_at": now, "closed_at": now}
            )
            r.merged_sha = result.sha

        seen: dict[str, Status] = {}
        request = self._ops.record(
            rid,
            "merge",
            key,
            {"merged": result.sha},
            change=change,
            finish=True,
            timeline="Merged",
            actor=actor.id,
            observed=seen,
        )
        self._audit.record(rid, "merged", actor=actor.id, source=source, data={"number": number, "sha": result.sha})
        self._notify(request, "merged", seen.get("before", before), actor.id, moved_only=True)
        return request

    # -- apply / replan --------------------------------------------------------------------

    def apply(self, request_id: str, actor: Actor, *, key: str | None = None, source: str = "slack") -> Request:
        """Dispatch the apply workflow on the base branch (only once merged; once per click)."""
        request = self._store.get(request_id)
        last = request.apply_run.run_id if request.apply_run else None
        key = key or f"apply:{request.merged_sha}:{last or 'first'}"
        return self._operate(
            request_id,
            Action.APPLY,
            key,
            actor,
            source,
            lambda b: self._run_run(b.request, b.key, actor, source, "apply"),
        )

    def replan(self, request_id: str, actor: Actor, *, key: str | None = None, source: str = "slack") -> Request:
        """Plan the branch again; the old plan output is cleared. After the merge (allowed only
        when drift was found on an applied request) the base branch is planned instead."""
        request = self._store.get(request_id)
        last = request.plan_run.run_id if request.plan_run else None
        if key is None and plans_on_base(request):
            checked = request.drift.checked_at.isoformat() if request.drift and request.drift.checked_at else "none"
            key = f"replan:drift:{checked}:{last or 'none'}"
        key = key or f"replan:{request.commit_sha}:{last or 'none'}"
        return self._operate(
            request_id,
            Action.REPLAN,
            key,
            actor,
            source,
            lambda b: self._run_run(b.request, b.key, actor, source, "plan"),
        )

    def _run_run(self, request: Request, key: str, actor: Actor, source: str, kind: RunKind) -> Request:
        op_kind = "apply" if kind == "apply" else "replan"
        before = derive_status(request)
        on_base = kind == "apply" or plans_on_base(request)
        ref = (request.target_base or "main") if on_base else (request.branch_name or request_branch(request.id))
        seen: dict[str, Status] = {}
        request = self._dispatch(request, op_kind, key, kind, ref=ref, actor=actor.id, observed=seen)
        request = self._ops.record(request.id, op_kind, key, {}, finish=True)
        self._audit.record(
            request.id,
            f"{op_kind}_dispatched",
            actor=actor.id,
            source=source,
            data=_run_data(getattr(request, f"{kind}_run")),
        )
        # A drift plan leaves the status at applied: said anyway, or nobody would see it start
        # (no webhook announces it either: a plan starting moves no status).
        self._notify(
            request,
            "applying" if kind == "apply" else "planning",
            seen.get("before", before),
            actor.id,
            run=getattr(request, f"{kind}_run"),
            moved_only=not (kind == "plan" and on_base),
        )
        return request

    # -- destroy ---------------------------------------------------------------------------

    def destroy(
        self,
        request_id: str,
        actor: Actor,
        *,
        key: str | None = None,
        source: str = "slack",
        user_token: str | None = None,
    ) -> Request:
        """Destroy the request's resources, keeping code and state in agreement (``DestroyFlow``:
        removal PR, its approval, the targeted destroy with the file still on the base branch,
        then the merge). ``user_token`` (a linked admin's) makes the removal PR's approval a real
        GitHub review. A destroy begun the old way (the cleanup workflow) finishes the old way."""
        request = self._store.get(request_id)
        waiting = pending(request, "destroy")
        legacy = [op for op in waiting if is_legacy(op)]
        if legacy:
            if any(awaiting_cleanup(request, op) for op in legacy):
                if request.operation("destroy", key or _destroy_key(request)) is None:
                    self._gate.require(Action.DESTROY, request, actor, source)  # a new click is still checked
                return request  # a repeated click while the cleanup workflow works: nothing new to do
            key = key or legacy[0].key
            return self._operate(
                request_id,
                Action.DESTROY,
                key,
                actor,
                source,
                lambda b: self._legacy_destroy.run(b.request, b.key, actor, source),
            )
        cleanup = request.cleanup_pr
        if not waiting and cleanup is not None and cleanup.merged and (cleanup.branch or "").startswith("cleanup/"):
            # An old-style attempt merged its cleanup PR (its destroy run failed): the file is gone
            # from the base branch already, so this attempt goes straight to destroy, the old way.
            key = key or _destroy_key(request)
            return self._operate(
                request_id,
                Action.DESTROY,
                key,
                actor,
                source,
                lambda b: self._legacy_destroy.run(b.request, b.key, actor, source),
            )
        if waiting and waits_on_run(request, waiting[0]) and request.operation("destroy", key or waiting[0].key):
            return request  # a repeated click while the destroy runs: nothing new to do
        if waiting:
            # A new click continues the unfinished destroy (after a crash, or once the admin linked
            # GitHub to review the removal PR); who clicks is still checked, the destroy under way aside.
            others = [op for op in request.operations if op.kind != "destroy" or op.completed_at is not None]
            self._gate.require(Action.DESTROY, request.model_copy(update={"operations": others}), actor, source)
            key = waiting[0].key
        else:
            key = key or _destroy_key(request)
            if request.operation("destroy", key) is None:
                refusal = guard_refusal(self._destroy_flow.guards(request))
                if refusal is not None:
                    self._gate.refuse(request_id, "destroy", actor, refusal, source)
        return self._operate(
            request_id,
            Action.DESTROY,
            key,
            actor,
            source,
            lambda b: self._destroy_flow.run(b.request, b.key, actor, source, user_token),
        )

    def prepare_destroy(
        self, request_id: str, actor: Actor, *, key: str | None = None, source: str = "slack"
    ) -> Request:
        """Open the reviewed change that lifts exactly the request's held destroy guards
        (``DestroyFlow.prepare``); allowed to whoever may destroy the request now."""
        request = self._store.get(request_id)
        unfinished = pending(request, "prepare_destroy")
        if not request.destroy_guards and not unfinished:
            # A document from before the guards were kept with the request: read them now.
            def kept(r: Request) -> Request:
                r.destroy_guards = self._destroy_flow.definition_guards(r.module)
                return r

            request = self._store.update(request_id, kept)
        key = unfinished[0].key if unfinished else key or f"prepare_destroy:{request.revision}"

        def init(current: Request) -> dict[str, Any]:
            return {"fields": {g.field: g.safe for g in self._destroy_flow.guards(current)}}

        return self._operate(
            request_id,
            Action.PREPARE_DESTROY,
            key,
            actor,
            source,
            lambda b: self._destroy_flow.prepare(b.request, b.key, actor, source),
            init=init,
        )

    # -- resume ----------------------------------------------------------------------------

    def resume(self, request_id: str) -> Request:
        """Finish every operation a crash left half-way (lease permitting).

        A destroy waiting for its cleanup PR has nothing to do until a fact arrives; when a
        ``refresh`` is wired, it is asked for the facts a lost webhook would have brought (what
        it finds continues the destroy through ``SyncService``'s ``on_unblocked``)."""
        request = self._store.get(request_id)
        refreshed = False
        for op in pending(request):
            if awaiting_cleanup(request, op) or (op.kind == "destroy" and waits_on_run(request, op)):
                if self.refresh is not None and not refreshed:
                    self.refresh(request_id)
                    refreshed = True
                continue
            token = self._ops.new_token()
            begun = self._ops.begin(request_id, op.kind, op.key, token, actor=op.actor)
            if begun.start is not Start.GO:
                request = begun.request
                continue
            runner = self._runner(op.kind, begun, Actor(id=op.actor or "tfpilot"))
            if runner is None:  # pragma: no cover - a newer writer's operation kind
                continue
            request = self._guard(begun, op.kind, runner)
        if refreshed:
            with contextlib.suppress(RequestNotFound):  # archived meanwhile: the caller reads history
                request = self._store.get(request_id)
        return request

    def _runner(self, kind: str, begun: Begun, actor: Actor) -> Callable[[], Request] | None:
        request, key, source = begun.request, begun.key, "reconciler"
        if kind == "create":
            return lambda: self._run_create(request, key)
        if kind == "update":
            return lambda: self._run_update(request, key, actor, source)
        if kind == "approve":
            return lambda: self._run_approve(request, key, actor, None, source)
        if kind == "merge":
            return lambda: self._run_merge(request, key, actor, source)
        if kind == "apply":
            return lambda: self._run_run(request, key, actor, source, "apply")
        if kind == "replan":
            return lambda: self._run_run(request, key, actor, source, "plan")
        if kind == "destroy" and is_legacy(_op(request, "destroy", key)):
            return lambda: self._legacy_destroy.run(request, key, actor, source)
        if kind == "destroy":
            return lambda: self._destroy_flow.run(request, key, actor, source, None)
        if kind == "prepare_destroy":
            return lambda: self._destroy_flow.prepare(request, key, actor, source)
        return None

    # -- shared steps ----------------------------------------------------------------------

    def _launch(
        self,
        request: Request,
        op_kind: str,
        key: str,
        kind: RunKind,
        *,
        ref: str,
        previous: int | None,
        on_run: Callable[[RunInfo | None], None] | None = None,
    ) -> tuple[Request, RunInfo | None]:
        """Dispatch ``kind`` once for this operation; after a crash, find the run before re-dispatching.
        ``on_run`` hears of the run (dispatched now, or found) before anything records it."""
        rid, repo = request.id, _repo(request)
        workflow = getattr(self._workflows, kind)
        marker = f"{kind}_dispatch"
        steps = _op(request, op_kind, key).steps
        info: RunInfo | None = None
        if marker in steps:
            info = self._code_host.find_run(repo, workflow, request_id=rid, ref=ref)
            before = steps[marker].get("previous")
            since = _parse_time(steps[marker].get("at"))
            if info is not None and before is not None and info.run_id <= before:
                info = None
            on_branch = ref == (request.branch_name or request_branch(rid))
            if info is not None and kind == "plan" and on_branch and info.head_sha and request.commit_sha:
                info = info if info.head_sha == request.commit_sha else None  # a plan of an older commit
            if (
                info is not None
                and since is not None
                and info.created_at is not None
                and info.created_at < since - DISPATCH_SKEW
            ):
                info = None
        else:
            request = self._ops.record(
                rid, op_kind, key, {marker: {"at": self._clock.now().isoformat(), "previous": previous}}
            )
        if info is None:
            info = self._code_host.dispatch_workflow(
                repo, workflow, ref=ref, inputs={"request_id": rid, "environment": request.environment}
            )
        if on_run is not None:
            on_run(info)
        return request, info

    def _dispatch(
        self,
        request: Request,
        op_kind: str,
        key: str,
        kind: RunKind,
        *,
        ref: str,
        actor: str | None,
        on_run: Callable[[RunInfo | None], None] | None = None,
        observed: dict[str, Status] | None = None,
    ) -> Request:
        """Dispatch ``kind`` once (``_launch``) and record it as the request's ``<kind>Run``."""
        rid = request.id
        workflow = getattr(self._workflows, kind)
        steps = _op(request, op_kind, key).steps
        done = f"{kind}_run"
        if done in steps:
            return request
        previous_run: RunRef | None = getattr(request, f"{kind}_run")
        previous = previous_run.run_id if previous_run and previous_run.run_id else steps.get(f"{kind}_previous")
        request, info = self._launch(request, op_kind, key, kind, ref=ref, previous=previous, on_run=on_run)
        now = self._clock.now()
        if info is not None:
            run = RunRef(
                run_id=info.run_id,
                url=info.url,
                status=info.status,
                conclusion=info.conclusion,
                head_sha=info.head_sha,
                workflow=workflow,
                dispatched_at=now,
            )
        else:  # the host did not say which run: SyncService finds it by the request id in its run-name
            run = RunRef(status="requested", workflow=workflow, dispatched_at=now)

        def change(r: Request) -> None:
            known: RunRef | None = getattr(r, f"{kind}_run")
            outran = known is not None and run.run_id is not None and known.run_id == run.run_id
            if known is not None and outran:
                # The run's webhook outran this write: keep what it said, add when we dispatched.
                setattr(r, f"{kind}_run", known.model_copy(update={"dispatched_at": now, "workflow": workflow}))
            else:
                setattr(r, f"{kind}_run", run)
            if kind == "plan" and not outran:
                r.plan, r.cost = None, None
            elif kind == "apply":
                r.apply_triggered_at = now
                r.applied_at = r.applied_at if outran else None
            elif kind == "destroy":
                r.destroy_triggered_at = now
                r.destroyed_at = r.destroyed_at if outran else None

        labels = {"plan": "Plan dispatched", "apply": "Apply started", "destroy": "Destroy started"}
        return self._ops.record(
            rid,
            op_kind,
            key,
            {done: info.run_id if info else None},
            change=change,
            timeline=labels[kind],
            actor=actor,
            observed=observed,
        )

    def _commit_step(
        self,
        request: Request,
        op_kind: str,
        key: str,
        *,
        branch: str,
        files: Mapping[str, str | None],
        parent: str,
        message: str,
        step: str = "commit",
    ) -> tuple[Request, str]:
        """One commit on top of ``parent``, once.

        The attempt (with its parent) is recorded first. When a later attempt finds the branch
        moved past that parent, the earlier attempt landed and the process died before recording
        it: its commit is adopted. GitHub's host detects a landed commit itself (same parent and
        tree); this covers hosts that answer "moved" instead. On a first attempt a moved branch
        is someone else's push: the attempt is forgotten so a retry re-reads the branch.
        """
        attempt = f"{step}_attempt"
        retry = attempt in _op(request, op_kind, key).steps
        if not retry:
            request = self._ops.record(request.id, op_kind, key, {attempt: parent})
        repo = _repo(request)
        try:
            return request, self._code_host.commit_files(repo, branch, files, message, parent_sha=parent)
        except CodeHostError:
            head = self._code_host.branch_head(repo, branch)
            if retry and head is not None and head != parent:
                return request, head
            if not retry and head != parent:
                self._ops.record(
                    request.id, op_kind, key, {}, change=lambda r: _op(r, op_kind, key).steps.pop(attempt, None)
                )
            raise

    def _files_of(self, request: Request) -> dict[str, str]:
        stored = (request.render or {}).get("files")
        if isinstance(stored, dict) and stored:
            return {str(k): str(v) for k, v in stored.items()}
        return self._render_files(
            request.id,
            request.project,
            request.environment,
            request.module,
            request.config,
            request.target_env_path or "",
            _requester_of(request),
            request.prod,
        )

    def _render_files(
        self,
        rid: str,
        project: str,
        environment: str,
        module: str,
        config: dict[str, Any],
        env_path: str,
        requester: str,
        prod: bool,
    ) -> dict[str, str]:
        return self._render(
            request_id=rid,
            project=project,
            environment=environment,
            module=module,
            config=config,
            env_path=env_path,
            requester=requester,
            prod=prod,
        )

    def _validated(
        self, module: str, config: dict[str, Any], environment: str, target: Any, project: str
    ) -> dict[str, Any]:
        allowed = target.allowed_modules
        if allowed is not None and module not in allowed:
            raise ConfigRejected(
                [
                    FieldError(
                        field="module",
                        message=f"module {module!r} is not allowed here",
                        allowed=", ".join(allowed) or "none",
                    )
                ]
            )
        # With the project, the registry also checks the full resource name's length.
        result = self._registry.validate(module, config, environment, prod=bool(target.prod), project=project)
        if not result.ok:
            raise ConfigRejected(list(result.errors))
        validated: dict[str, Any] = dict(result.config)
        return validated

    def authorize(self, request_id: str, action: Action, actor: Actor, *, source: str = "slack") -> Request:
        """The request, when ``actor`` may do ``action`` on it now; otherwise the refusal is
        recorded (``<action>_blocked``) and raised as ``PermissionDenied`` for the caller to show.
        For callers that must decide before asking for more (the edit form, the prod destroy
        confirmation); the action itself checks again when it runs."""
        request = self._store.get(request_id)
        self._gate.require(action, request, actor, source)
        return request

    def _operate(
        self,
        request_id: str,
        action: Action,
        key: str,
        actor: Actor,
        source: str,
        run: Callable[[Begun], Request],
        *,
        init: Callable[[Request], dict[str, Any]] | None = None,
    ) -> Request:
        """Start the operation ``action``/``key`` (its kind is the action's name) under a fresh
        lease, permission checked in the same compare-and-swap, and run it; one already running
        or finished is not run again."""
        kind = action.value
        begun = self._begin(request_id, kind, key, self._ops.new_token(), actor, action, source, init=init)
        if begun.start is not Start.GO:
            return begun.request
        return self._guard(begun, kind, lambda: run(begun))

    def _begin(
        self,
        request_id: str,
        kind: str,
        key: str,
        token: str,
        actor: Actor,
        action: Action,
        source: str,
        *,
        init: Callable[[Request], dict[str, Any]] | None = None,
    ) -> Begun:
        def refuse(request: Request) -> str | None:
            decision = self._gate.decide(action, request, actor)
            return None if decision.allowed else decision.reason or NOT_ALLOWED

        begun = self._ops.begin(request_id, kind, key, token, actor=actor.id, refuse=refuse, init=init)
        if begun.start is Start.REFUSED:
            self._gate.refuse(request_id, action.value, actor, begun.reason or NOT_ALLOWED, source)
        return begun

    def _guard(self, begun: Begun, kind: str, work: Callable[[], Request]) -> Request:
        try:
            return work()
        except Exception as exc:
            self._ops.fail(begun.request.id, kind, begun.key, f"{type(exc).__name__}: {exc}")
            self._audit.record(begun.request.id, f"{kind}_failed", source="tfpilot", data={"error": str(exc)[:500]})
            raise

    def _notify(
        self,
        request: Request,
        event: str,
        before: Status | None,
        actor: str | None,
        *,
        run: RunRef | None = None,
        moved_only: bool = False,
        **detail: Any,
    ) -> bool:
        """Tell people; True when told. With ``moved_only`` only when this service's write moved
        the status: a webhook folded first (GitHub reporting the merge or the run before our
        call returned) has announced the move already, and saying it twice would post two
        thread replies. ``detail`` fills the transition's optional fields (approval, blocked...)."""
        if moved_only and before is not None and before is derive_status(request):
            return False
        self._notifier.request_changed(
            request,
            Transition(
                event=event,
                previous_status=before.value if before else None,
                status=derive_status(request).value,
                actor=actor,
                run_url=run.url if run else None,
                **detail,
            ),
        )
        return True


class _TargetOf:
    """The target facts kept in a request (so later validation never needs the projects map)."""

    def __init__(self, request: Request) -> None:
        self.prod = request.is_prod
        self.allowed_modules: list[str] | None = None


def _op(request: Request, kind: str, key: str) -> Any:
    op = request.operation(kind, key)
    if op is None:  # pragma: no cover - begin() created it
        raise LookupError(f"{request.id} has no {kind} operation {key!r}")
    return op


def _set(request: Request, **values: Any) -> None:
    for name, value in values.items():
        setattr(request, name, value)


def _set_pr(request: Request, pr: PullRequestRef) -> None:
    request.pr = pr


def _repo(request: Request) -> RepoRef:
    if not request.target_owner or not request.target_repo:
        raise CodeHostError(f"{request.id} has no target repository recorded")
    return RepoRef(owner=request.target_owner, name=request.target_repo)


def _requester_of(request: Request) -> str:
    if request.requester is None:
        return "unknown"
    return request.requester.email or request.requester.id


def _destroy_key(request: Request) -> str:
    """``destroy`` for the first attempt; a new key after each attempt that failed, so a new
    click after a failure starts over while a repeated click joins the same attempt."""
    failed = 0
    for op in request.operations:
        if op.kind != "destroy" or op.completed_at is None:
            continue
        run_id = op.steps.get("destroy_run")
        destroy_failed = (
            run_id is not None
            and request.destroy_run is not None
            and request.destroy_run.run_id == run_id
            and run_failed(request.destroy_run)
        )
        if op.error or "failed" in op.steps or destroy_failed:
            failed += 1
    return "destroy" if failed == 0 else f"destroy:retry-{failed}"


def _run_data(run: RunRef | None) -> dict[str, Any]:
    if run is None:
        return {}
    return {"runId": run.run_id, "url": run.url, "workflow": run.workflow}


def _parse_time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None
