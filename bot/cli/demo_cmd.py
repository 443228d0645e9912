"""``tfpilot demo [--data-dir D] [--keep]``: the whole lifecycle, offline, in a terminal.

On embedded defaults (local store on disk, the local git forge with its runner, the rule-based
extractor; a temporary data directory unless one is given) a scripted conversation asks for an
S3 bucket in dev in one sentence, answers the one question the assistant asks, confirms (the
Terraform is shown) and submits. Then the plan finishes, the requester's own approval is
refused, an approver approves, merges and applies, an admin destroys. Every card and thread
message is printed as the console renders them; a final summary checks the statuses went
through the lifecycle in order, the request's file reached the infra repo's base branch and
left it again, the request was archived to ``history/`` and the conversation was logged.
Exit 0 on success; 1 with the failing step and why otherwise.

``console_deps`` (also used by ``tfpilot chat``) builds the object graph through the
composition root ``bot.bootstrap.build`` with the console's notifier and a local code host.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from bot.console.notifier import ConsoleNotifier
from bot.console.presenter import Presenter, colour_for
from bot.console.session import DEFAULT_USERS, ConsoleSession, Outcome
from bot.settings import Settings, SettingsError, load_settings
from core.domain.lifecycle import derive_status
from core.ports.code_host import RepoRef

# The lifecycle the demo must walk, in order (the first status may also be request_created).
EXPECTED_TRAIL: tuple[str, ...] = (
    "planning",
    "plan_ready",
    "approved",
    "merged",
    "applying",
    "applied",
    "destroying",
    "destroyed",
)
DEMO_ROLES = {"TFPILOT_DEVELOPERS": "alice", "TFPILOT_APPROVERS": "bob", "TFPILOT_ADMINS": "carol"}
# Values the scripted requester gives when the assistant asks for a field.
DEMO_ANSWERS: dict[str, str] = {
    "name": "demo-logs",
    "bucket_name": "demo-logs",
    "bucket": "demo-logs",
    "purpose": "demo logs",
    "description": "TfPilot demo bucket",
    "owner": "platform",
    "team": "platform",
}
MAX_INTAKE_TURNS = 8


class DemoFailed(Exception):
    def __init__(self, step: str, reason: str) -> None:
        super().__init__(f"{step}: {reason}")
        self.step = step
        self.reason = reason


@dataclass
class DemoResult:
    request_id: str
    trail: list[str]
    file_path: str
    file_after_merge: bool
    file_after_destroy: bool
    history_path: Path | None
    chat_turns: int
    chat_path: Path | None
    repo_dir: Path
    forge_dir: Path
    data_dir: Path
    assistant_questions: int
    refused_reason: str | None
    seconds: float
    events: list[str] = field(default_factory=list)


# --- the object graph --------------------------------------------------------------------


def console_deps(
    settings: Settings,
    *,
    notifier: ConsoleNotifier,
    runner_mode: str = "manual",
    local_code_host: bool | None = None,
) -> tuple[Any, Any]:
    """The ``Deps`` for a console session, and the local code host when one is used.

    The composition root builds everything from ``settings``; the console supplies its own
    notifier and, unless GitHub is configured, a ``LocalCodeHost`` whose run facts go to the
    graph's ``SyncService`` (the same path as GitHub webhooks)."""
    from bot import bootstrap
    from core.adapters.local_code_host import LocalCodeHost
    from core.ports.clock import SystemClock

    use_local = (not settings.uses_github) if local_code_host is None else local_code_host
    overrides: dict[str, Any] = {"notifier": notifier}
    host: LocalCodeHost | None = None
    built: list[Any] = []

    def environments_of(repo: RepoRef) -> list[str]:
        # Called on the repository's first use, once the graph (and its projects map) exists.
        return bootstrap.environments_in(built[0].projects, repo)

    if use_local:
        clock = SystemClock()
        host = LocalCodeHost(
            Path(settings.data_dir),
            clock,
            workflows=settings.workflows(),
            runner_mode=runner_mode,  # type: ignore[arg-type]
            environments_of=environments_of,
            runner=bootstrap.build_local_runner(settings, clock),
        )
        overrides["code_host"] = host
    # The composition root attaches the local forge's facts to the graph's SyncService.
    deps = bootstrap.build(settings, source="console", **overrides)
    built.append(deps)
    return deps, host


# Where terraform and its AWS provider are may come from the shell; which cloud may not: the
# demo runs against the local cloud (moto) or previews, never against real AWS.
_DEMO_TERRAFORM_SETTINGS = ("TFPILOT_TERRAFORM_PLUGIN_DIR", "TFPILOT_TERRAFORM")


def demo_settings(data_dir: Path) -> Settings:
    # Only these values: the demo must never pick up real Slack/GitHub/AWS/OpenAI settings
    # from the caller's shell.
    local = {name: os.environ[name] for name in _DEMO_TERRAFORM_SETTINGS if os.environ.get(name)}
    cloud = "none" if os.environ.get("TFPILOT_LOCAL_CLOUD") == "none" else "moto"
    return load_settings({"TFPILOT_DATA_DIR": str(data_dir), "TFPILOT_LOCAL_CLOUD": cloud, **local, **DEMO_ROLES})


# --- the script --------------------------------------------------------------------------


class _Demo:
    def __init__(self, data_dir: Path, out: TextIO, presenter: Presenter, runner: str = "manual") -> None:
        self.data_dir = data_dir
        self.out = out
        self.p = presenter
        self.notifier = ConsoleNotifier(out, presenter=presenter, approvers=["bob"])
        self.deps, self.host = console_deps(demo_settings(data_dir), notifier=self.notifier, runner_mode=runner)
        self.session = ConsoleSession(
            self.deps,
            out,
            self.notifier,
            presenter,
            users=DEFAULT_USERS,
            thread=f"demo-{uuid.uuid4().hex[:8]}",  # a new conversation on every run, even in a kept data dir
            settle=self.settle,
            confirm=self._confirm,
        )
        self.questions = 0

    def settle(self) -> None:
        if self.host is not None:
            self.host.wait_idle(timeout=120)

    def _confirm(self, prompt: str) -> bool:
        self.say_dim(f"{prompt.strip()} yes (confirmed by the script)")
        return True

    def say_dim(self, text: str) -> None:
        self.session.write(self.p.dim(text))

    def banner(self, title: str) -> None:
        self.session.write("\n" + self.p.bold(f"▶ {title}"))

    # --- steps --------------------------------------------------------------------------

    def pick_project(self) -> str:
        projects = self.deps.projects
        for name in projects.names():
            if "dev" in projects.environments(name):
                return str(name)
        raise DemoFailed("setup", "no project in the projects map has a dev environment")

    def converse(self) -> str:
        project = self.pick_project()
        self.banner("Alice asks for a bucket")
        outcome = self.session.say(f"I need an S3 bucket in dev for the {project} project")
        reply = outcome.reply
        for _ in range(MAX_INTAKE_TURNS):
            if getattr(reply, "request_id", None) and getattr(reply, "submitted", False):
                break
            if getattr(reply, "terraform", None):
                self.banner("Alice confirms the Terraform and submits")
                reply = self.session.say("submit").reply
                continue
            answer = self._answer(reply)
            if answer is None:
                raise DemoFailed("intake", f"the assistant said {reply.text!r} and the script has no answer")
            self.questions += 1
            reply = self.session.say(answer).reply
        request_id = getattr(reply, "request_id", None)
        if not request_id or (not getattr(reply, "submitted", False) and not getattr(reply, "done", False)):
            raise DemoFailed("intake", "the conversation did not end in a submitted request")
        self.session.request_id = request_id
        return str(request_id)

    def _answer(self, reply: Any) -> str | None:
        question = getattr(reply, "question", None)
        if question and question in DEMO_ANSWERS:
            return DEMO_ANSWERS[question]
        choices = list(getattr(reply, "choices", None) or [])
        if choices:
            return str(choices[0].value)
        if question:
            return "demo"
        return None

    def status(self, request_id: str) -> str:
        return derive_status(self.deps.store.get(request_id)).value

    def expect(self, step: str, request_id: str, wanted: str) -> None:
        self.settle()
        got = self.status(request_id)
        if got != wanted:
            raise DemoFailed(step, f"expected status {wanted}, found {got}{self._run_hint(request_id)}")

    def _run_hint(self, request_id: str) -> str:
        request = self.deps.store.get(request_id)
        runs = [r for r in (request.destroy_run, request.apply_run, request.plan_run) if r and r.run_id]
        if not runs or self.host is None:
            return ""
        try:
            log: str = self.host.run_log(self.repo(request_id), runs[0].run_id)
        except Exception:
            return ""
        return "\n--- last run log ---\n" + log.strip()

    def cloud_endpoint(self) -> str | None:
        """The local cloud's endpoint when this demo runs Terraform for real against moto."""
        from core.adapters.local_cloud import MotoServer

        real = self.host.runner.real if self.host is not None else None
        if real is None or not isinstance(real.cloud, MotoServer) or not real.cloud.running:
            return None
        return real.cloud.endpoint()

    def read_back(self, request_id: str, title: str) -> bool | None:
        """Print the request's bucket as the local cloud has it (boto3); whether it exists, or
        None when nothing ran for real (a preview says why instead)."""
        request = self.deps.store.get(request_id)
        endpoint = self.cloud_endpoint()
        self.banner(title)
        if endpoint is None or request.plan is None or request.plan.preview:
            why = request.plan.preview_reason if request.plan and request.plan.preview_reason else None
            self.say_dim(f"  preview only{f' ({why})' if why else ''}: no cloud resource was created or read")
            return None
        import boto3
        from botocore.exceptions import ClientError

        name = str(request.outputs.get("bucket") or "")
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=self.deps.settings.default_region,
            aws_access_key_id="test",
            aws_secret_access_key="test",  # noqa: S106 - the emulator's dummy credentials
        )
        try:
            s3.head_bucket(Bucket=name)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "?")
            self.session.write(f"  s3://{name}: gone (head_bucket: {code})")
            return False
        tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=name).get("TagSet", [])}
        versioning = s3.get_bucket_versioning(Bucket=name).get("Status", "off")
        self.session.write(f"  s3://{name}  versioning: {versioning}")
        self.session.write("  tags: " + ", ".join(f"{k}={v}" for k, v in sorted(tags.items())))
        return True

    def repo(self, request_id: str) -> RepoRef:
        request = self.deps.store.get(request_id)
        return RepoRef(owner=request.target_owner or "", name=request.target_repo or "")

    def click(self, step: str, user: str, label: str) -> Outcome:
        self.banner(step)
        if self.session.acting.id != user:
            self.session.switch(user)
        outcome = self.session.handle_line(label)
        if outcome.kind not in ("clicked", "refused"):
            buttons = ", ".join(self.session.card_buttons()) or "none"
            raise DemoFailed(
                step, f"could not click {label!r} ({outcome.kind}: {outcome.text}); card buttons: {buttons}"
            )
        return outcome

    def file_on_base(self, request_id: str) -> tuple[str, bool]:
        request = self.deps.store.get(request_id)
        path = (request.target_files or [f"{request.target_env_path}/tfpilot_{request_id}.tf"])[0]
        if self.host is None:
            return path, False
        content = self.host.read_file(self.repo(request_id), request.target_base or "main", path)
        return path, content is not None

    def run(self) -> DemoResult:
        started = time.monotonic()
        request_id = self.converse()
        self.expect("plan", request_id, "plan_ready")

        refused = self.click("Alice (developer) tries to approve her own request", "alice", "approve")
        if refused.kind != "refused":
            raise DemoFailed("self-approval", "the requester's own approval was not refused")

        self.click("Bob (approver) approves", "bob", "approve")
        self.expect("approve", request_id, "approved")
        self.click("Bob merges", "bob", "merge")
        self.expect("merge", request_id, "merged")
        path, after_merge = self.file_on_base(request_id)
        if not after_merge:
            raise DemoFailed("merge", f"{path} is not on the base branch after the merge")
        self.click("Bob applies", "bob", "apply")
        self.expect("apply", request_id, "applied")
        created = self.read_back(request_id, "The bucket in the local cloud, read back with boto3")
        self.click("Carol (admin) destroys", "carol", "destroy")
        self.expect("destroy", request_id, "destroyed")
        gone = self.read_back(request_id, "After the destroy, in the local cloud")
        if created is not None and (not created or gone):
            raise DemoFailed("local cloud", "the bucket was not created by the apply or not removed by the destroy")
        _, after_destroy = self.file_on_base(request_id)
        if after_destroy:
            raise DemoFailed("destroy", f"{path} is still on the base branch after destroy")

        trail = _dedupe([p.status for p in self.notifier.history if p.request_id == request_id])
        if not _in_order(EXPECTED_TRAIL, trail) or "failed" in trail:
            raise DemoFailed("lifecycle", f"statuses went {' → '.join(trail)}")
        request = self.deps.store.get(request_id)
        if request.archived_at is None:
            raise DemoFailed("archive", "the destroyed request was not archived")
        history = _find(self.data_dir, f"history/{request_id}.json")
        if history is None:
            raise DemoFailed("archive", f"history/{request_id}.json not found under {self.data_dir}")
        turns, chat_path = self.chat_log()
        if turns == 0:
            raise DemoFailed("chat log", "no chat turns were stored")
        assert self.host is not None
        return DemoResult(
            request_id=request_id,
            trail=trail,
            file_path=path,
            file_after_merge=after_merge,
            file_after_destroy=after_destroy,
            history_path=history,
            chat_turns=turns,
            chat_path=chat_path,
            repo_dir=self.host.repo_dir(self.repo(request_id)),
            forge_dir=self.host.forge_dir(self.repo(request_id)),
            data_dir=self.data_dir,
            assistant_questions=self.questions,
            refused_reason=refused.text,
            seconds=time.monotonic() - started,
            events=[e.event for e in self.deps.audit.events(request_id)],
        )

    def chat_log(self) -> tuple[int, Path | None]:
        from assistant.domain.session import IntakeSession

        stored = self.deps.objects.get(self.session.conversation_key().object_key())
        if stored is None:
            return 0, None
        session = IntakeSession.model_validate_json(stored.body)
        turns = len(self.deps.chat_log.read(session.id))
        folder = next((p for p in self.data_dir.rglob(session.id) if p.is_dir()), None)
        return turns, folder

    def close(self) -> None:
        if self.host is not None:
            self.host.close()
            real = self.host.runner.real
            stop = getattr(real.cloud, "stop", None) if real is not None else None
            if callable(stop):
                stop()  # the demo's own local cloud goes with it


def _dedupe(values: list[str]) -> list[str]:
    out: list[str] = []
    for v in values:
        if not out or out[-1] != v:
            out.append(v)
    return out


def _in_order(expected: tuple[str, ...], trail: list[str]) -> bool:
    it = iter(trail)
    return all(any(step == seen for seen in it) for step in expected)


def _find(root: Path, suffix: str) -> Path | None:
    name = suffix.rsplit("/", 1)[-1]
    for path in root.rglob(name):
        if path.as_posix().endswith(suffix):
            return path
    return None


def summary(result: DemoResult, p: Presenter, *, note: str | None = None) -> str:
    tick = "✔" if p.unicode else "ok"
    lines = [
        "",
        p.bold("Demo summary"),
        p.rule(),
        f"{tick} request {result.request_id}: {' → '.join(result.trail)}",
        f"{tick} the assistant asked {result.assistant_questions} question(s) before the confirm step",
        f"{tick} Alice (the requester, a developer) was refused: {result.refused_reason}",
        f"{tick} {result.file_path} on the base branch after merge: {'yes' if result.file_after_merge else 'no'}; "
        f"after destroy: {'yes' if result.file_after_destroy else 'no'}",
        f"{tick} archived: {result.history_path}",
        f"{tick} chat log: {result.chat_turns} turns in {result.chat_path}",
        f"{tick} lifecycle events: {', '.join(result.events)}",
        f"  infra repo (git): {result.repo_dir}  (try: git --git-dir={result.repo_dir} log --stat main)",
        f"  pull requests and run logs: {result.forge_dir}",
        f"  data directory:   {result.data_dir}",
        f"  finished in {result.seconds:.1f} s",
    ]
    if note:
        lines.append(p.dim(f"  {note}"))
    return "\n".join(lines)


def run_demo(
    data_dir: Path, out: TextIO, *, colour: bool = False, note: str | None = None, runner: str = "manual"
) -> DemoResult:
    """Run the scripted lifecycle in ``data_dir``; raises ``DemoFailed`` naming the step."""
    presenter = Presenter(colour=colour, users={u.id: u.name for u in DEFAULT_USERS})
    demo = _Demo(data_dir, out, presenter, runner)
    try:
        result = demo.run()
    finally:
        demo.close()
    out.write(summary(result, presenter, note=note) + "\n")
    out.flush()
    return result


# --- the command ---------------------------------------------------------------------------


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run a scripted request through the whole lifecycle offline (local git forge and store)",
    )
    parser.add_argument("--data-dir", type=Path, default=None, help="where to keep the data (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data directory afterwards")
    parser.add_argument("--json", action="store_true", help="print the result as JSON after the transcript")
    parser.add_argument(
        "--runner",
        choices=["manual", "thread"],
        default="manual",
        help="run workflow runs after each step (manual, deterministic) or on a background thread",
    )
    parser.set_defaults(func=run)


def data_dir_problem(path: Path) -> str | None:
    """Why ``path`` cannot hold the local data (created when absent), or None when it can."""
    if path.exists() and not path.is_dir():
        return f"the data directory {path} is a file, not a directory"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"cannot create the data directory {path}: {exc.strerror or exc}"
    if not os.access(path, os.W_OK | os.X_OK):
        return f"the data directory {path} is not writable"
    return None


@contextlib.contextmanager
def _data_dir(given: Path | None, keep: bool, err: TextIO) -> Iterator[Path]:
    if given is not None:
        yield given.resolve()
        return
    tmp = Path(tempfile.mkdtemp(prefix="tfpilot-demo-"))
    try:
        yield tmp
    finally:
        if keep:
            err.write(f"kept the demo data in {tmp}\n")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def run(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    problem = data_dir_problem(args.data_dir) if args.data_dir is not None else None
    if problem is not None:
        err.write(f"tfpilot demo cannot start: {problem}\n")
        return 1
    with _data_dir(args.data_dir, args.keep, err) as data_dir:
        try:
            temporary = args.data_dir is None and not args.keep
            note = (
                "(a temporary directory, removed on exit: use --keep or --data-dir to look around)"
                if temporary
                else None
            )
            runner = getattr(args, "runner", "manual")
            result = run_demo(data_dir, out, colour=colour_for(out), note=note, runner=runner)
        except DemoFailed as exc:
            err.write(f"\ntfpilot demo FAILED at step '{exc.step}': {exc.reason}\n")
            return 1
        except KeyboardInterrupt:
            err.write("\ntfpilot demo interrupted\n")
            return 130
        except SettingsError as exc:
            err.write(f"tfpilot demo cannot start: {exc}\n")
            return 1
        except Exception as exc:
            err.write(f"\ntfpilot demo FAILED: {type(exc).__name__}: {exc}\n")
            return 1
        if getattr(args, "json", False):
            out.write(json.dumps(_result_doc(result), indent=2) + "\n")
    return 0


def _result_doc(result: DemoResult) -> dict[str, Any]:
    return {
        "ok": True,
        "request_id": result.request_id,
        "statuses": result.trail,
        "file": result.file_path,
        "file_after_merge": result.file_after_merge,
        "file_after_destroy": result.file_after_destroy,
        "history": str(result.history_path),
        "chat_turns": result.chat_turns,
        "assistant_questions": result.assistant_questions,
        "events": result.events,
        "seconds": round(result.seconds, 2),
    }
