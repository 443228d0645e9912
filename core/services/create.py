"""``CreateCommands``: validate, save, then branch, commit, PR and plan, each step once."""

from __future__ import annotations

from core.domain.commands import record_commit, record_created, record_pr_opened, transition
from core.domain.errors import RequestAlreadyExists, RequestNotFound
from core.domain.events import NewEvent, emit_all
from core.domain.ids import request_branch
from core.domain.operation import BranchStep, CreateOp, OperationBase
from core.domain.refusals import Denial
from core.domain.request import PullRequestRef, Request, Requester
from core.domain.status import Status
from core.domain.timeline import TimelineCode, step_of
from core.ports.code_host import CodeHostError
from core.ports.notifier import Transition
from core.services import pr_text
from core.services.command_base import dispatched_event, repo_ref
from core.services.commands import CreateRequest, actor_of, digest
from core.services.destroy import DestroyFlow
from core.services.dispatching import Dispatching
from core.services.gate import NOT_ALLOWED
from core.services.operations import Begun, Mark, Start, operation_of


class CreateCommands(Dispatching):
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

    def create_refusal(self, requester: Requester, *, prod: bool) -> Denial | None:
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
            destroy_guards=DestroyFlow(self).definition_guards(cmd.module),
        )
        created = record_created(
            request,
            key=key,
            actor=actor.id,
            source=cmd.source,
            lease=self._ops.lease_for(token),
            files=list(files),
            now=now,
        )
        emit_all(request, created, at=now, version=1)
        try:
            stored = self._store.create(request)
        except RequestAlreadyExists:
            raced = self._existing(rid, key, cmd)
            if raced is None:  # pragma: no cover - the id exists but vanished again
                raise
            return self._continue_create(raced, token=self._ops.new_token())
        self._bus.handle(stored)
        return self._continue_create(stored, token=token, created=True)

    def _existing(self, rid: str, key: str, cmd: CreateRequest) -> Request | None:
        try:
            found = self._store.get(rid)
        except RequestNotFound:
            return None
        same_requester = found.requester is not None and found.requester.id == cmd.requester.id
        if found.idempotency_key != key or not same_requester:
            raise RequestAlreadyExists(rid)
        return found

    def _continue_create(self, request: Request, *, token: str, created: bool = False) -> Request:
        key = request.idempotency_key or ""
        op = request.operation("create", key)
        if op is None or op.completed_at is not None:
            return request
        if created:  # this call stored the document with its lease in it: no write to take it again
            begun = Begun(Start.GO, request, key)
        else:
            begun = self._ops.begin(request.id, "create", key, token, actor=op.actor)
        if begun.start is not Start.GO:
            return begun.request
        return self._guard(begun, "create", lambda: self._run_create(begun.request, key))

    def _run_create(self, request: Request, key: str) -> Request:
        rid, repo = request.id, repo_ref(request)
        branch, base = request.branch_name or request_branch(rid), request.target_base or "main"
        actor = operation_of(request, CreateOp, key).actor
        steps = operation_of(request, CreateOp, key).steps
        source = steps.source or "api"
        # Whether the PR's ``opened`` webhook folded the PR first (and so told the thread).
        webhook_told = False
        started = steps.branch
        if started is None:
            base_sha = self._code_host.branch_head(repo, base)
            if base_sha is None:
                raise CodeHostError(f"base branch {base!r} not found in {repo.full_name}", status=404)
            head = self._code_host.create_branch(repo, branch, base_sha)
            branch_step = started = BranchStep(base=base_sha, head=head)
            # Recorded with the commit attempt (the next write, before the commit): lost in a
            # crash before it, the retry creates the branch again (the host returns it as it is).
            self._ops.defer(
                rid,
                CreateOp,
                key,
                lambda op: op.steps.set(branch=branch_step),
                timeline=TimelineCode.BRANCH_CREATED,
                actor=actor,
                events=[
                    NewEvent(
                        name="branch_created", actor=actor, source=source, data={"branch": branch, "from": base_sha}
                    )
                ],
            )
        # The commit is recorded with the PR (no write of its own): a crash between the two finds
        # ``commit_attempt`` recorded and the branch moved past it, and adopts the commit.
        committed: str | None = None
        if steps.commit is None:
            files = self._files_of(request)
            request, committed = self._commit_step(
                request,
                CreateOp,
                key,
                branch=branch,
                files=files,
                parent=started.head,
                message=pr_text.commit_message(request, revision=1),
            )
            steps = operation_of(request, CreateOp, key).steps
        if steps.pr is None:
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
                head_sha=info.head_sha or committed or steps.commit,
            )
            seen: dict[str, Status] = {}
            number = info.number

            def opened(op: CreateOp) -> None:
                op.steps.set(pr=number)
                if committed is not None:
                    op.steps.set(commit=committed)

            def command(r: Request) -> list[NewEvent]:
                if committed is not None:
                    record_commit(r, committed)
                    r.timeline.append(step_of(TimelineCode.TERRAFORM_COMMITTED, self._clock.now(), actor=actor))
                return record_pr_opened(r, pr, actor=actor, source=source)

            request = self._command(
                rid,
                CreateOp,
                key,
                command,
                opened,
                timeline=TimelineCode.PR_OPENED,
                actor=actor,
                observed=seen,
                launch=Mark("plan"),  # the plan's dispatch marker rides on this write
            )
            if seen.get("before") is Status.PLANNING:
                # The webhook recorded the open PR (request_created -> planning) before this write
                # and posted that transition's reply: this create must not post a second one.
                webhook_told = True
        told = webhook_told

        def announced(op: OperationBase) -> None:
            if told and isinstance(op, CreateOp):
                op.steps.announced = True

        def tell(_before: Status, r: Request) -> list[Transition | NewEvent | None]:
            dispatched = dispatched_event("plan_dispatched", actor, source, r.plan_run)
            return [dispatched] if told else [dispatched, transition(r, "created", None, actor, run=r.plan_run)]

        # The run is recorded and the operation finished in one write.
        return self._dispatch(
            request, CreateOp, key, "plan", ref=branch, actor=actor, finish=True, also=announced, tell=tell
        )
