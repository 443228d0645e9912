"""The one composition root: settings -> clients -> adapters -> services -> ``Deps``.

Nothing else builds adapters. Storage is S3 when ``TFPILOT_REQUESTS_BUCKET`` is set and the
local directory ``TFPILOT_DATA_DIR`` otherwise (same key layout, same compare-and-swap); the code
host is GitHub when a token or App is configured and the local git forge otherwise; the
extractor is OpenAI (with the rules as fallback) when ``OPENAI_API_KEY`` is set. Tests and the
console pass ``Overrides`` (typed, all optional) to swap a port and keep the rest of the wiring
real: tests build every graph here, never by hand (see docs/contracts.md).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, TypedDict, Unpack

from assistant.domain.chat_model import ChatModel
from assistant.service import IntakeService
from bot.deps import Deps
from bot.settings import Settings, SettingsError
from bot.views.refusals import reason_text
from core.adapters.audit_log import ObjectAuditLog
from core.adapters.chat_log import LocalChatLog, S3ChatLog
from core.adapters.local_objects import LocalObjectStore
from core.adapters.request_store import ObjectRequestStore
from core.adapters.s3_objects import S3ObjectStore
from core.domain.policy import Policy
from core.domain.request import Request
from core.ports.audit import AuditLog
from core.ports.chat_log import ChatLog
from core.ports.clock import Clock, SystemClock
from core.ports.code_host import CodeHost, RepoRef
from core.ports.notifier import Notifier, Transition
from core.ports.object_store import ObjectStore
from core.ports.request_store import RequestStore
from core.services.drift import DriftService
from core.services.messagebus import MessageBus
from core.services.once import Once
from core.services.queries import QueryService
from core.services.registry_view import Renderer
from core.services.requests import RequestService, registry_renderer
from core.services.sync import SyncService
from module_registry.catalogue import Registry, load_registry
from module_registry.projects import ProjectsMap, load_projects

log = logging.getLogger("tfpilot.bootstrap")


class Overrides(TypedDict, total=False):
    """What a caller supplies instead of what the settings choose; every key is optional.

    Production passes none (the console passes its notifier and code host). Tests pass fakes of
    the ports and keep the services and their wiring real (the message bus's continuation
    and refresh handlers, the local forge's facts). ``chat_model`` may be None: the assistant
    then runs on its rules only. ``renderer`` replaces ``module_registry.render`` (with a
    stand-in registry). The services themselves can be replaced too, for a caller that wraps one."""

    clock: Clock
    objects: ObjectStore
    store: RequestStore
    audit: AuditLog
    chat_log: ChatLog
    registry: Registry
    projects: ProjectsMap
    code_host: CodeHost
    notifier: Notifier
    policy: Policy
    chat_model: ChatModel | None
    renderer: Renderer
    requests: RequestService
    sync: SyncService
    queries: QueryService
    drift: DriftService
    intake: IntakeService


_OVERRIDABLE = Overrides.__optional_keys__


class LoggingNotifier:
    """Notifier of last resort (no Slack configured): the transition goes to the log."""

    def request_changed(self, request: Request, transition: Transition) -> None:
        log.info(
            "request %s: %s -> %s (%s)", request.id, transition.previous_status, transition.status, transition.event
        )


def s3_client(settings: Settings) -> Any:
    """An S3 client (botocore's, as boto3 builds it); ``AWS_ENDPOINT_URL_S3`` (the SDK's own
    setting) points it elsewhere. ``bot.s3_client`` says what it leaves out (7 MB at start)."""
    from bot.s3_client import s3_client as lean_s3_client

    return lean_s3_client(settings.default_region)


def build_objects(settings: Settings, client: Any | None = None) -> ObjectStore:
    if settings.requests_bucket:
        return S3ObjectStore(client or s3_client(settings), settings.requests_bucket)
    return LocalObjectStore(Path(settings.data_dir))


def build_chat_log(settings: Settings, clock: Clock, client: Any | None = None) -> ChatLog:
    if settings.chat_logs_bucket:
        return S3ChatLog(client or s3_client(settings), settings.chat_logs_bucket, clock)
    # The chat log keeps its own "bucket" beside the requests, as in S3.
    return LocalChatLog(Path(settings.data_dir) / "chat-logs", clock)


def environments_in(projects: ProjectsMap, repo: RepoRef) -> list[str]:
    """The environments the projects map places in ``repo`` (the local forge scaffolds those)."""
    mine = [t.environment for t in projects.targets() if (t.owner, t.repo) == (repo.owner, repo.name)]
    return list(dict.fromkeys(mine))


def build_local_runner(settings: Settings, clock: Clock) -> Any:
    """The local forge's runner: real Terraform against the local cloud when terraform is here
    and a cloud is configured; a preview that says why otherwise."""
    import shutil

    from core.adapters.local_cloud import Cloud, MotoServer, RealAws
    from core.adapters.local_runner import LocalRunner
    from core.adapters.terraform_cli import TerraformCli
    from core.adapters.terraform_run import RealTerraform

    binary = settings.terraform_bin or shutil.which("terraform")
    if settings.local_cloud == "none":
        return LocalRunner(clock, preview_reason="no local cloud is configured (TFPILOT_LOCAL_CLOUD=none)")
    if binary is None:
        return LocalRunner(clock, preview_reason="terraform is not installed")
    data = Path(settings.data_dir).resolve()
    cloud: Cloud = MotoServer(data) if settings.local_cloud == "moto" else RealAws()
    cli = TerraformCli(binary, plugin_dir=settings.terraform_plugin_dir)
    return LocalRunner(clock, terraform=binary, real=RealTerraform(cli, cloud, data / "terraform"))


def build_code_host(settings: Settings, clock: Clock, projects: ProjectsMap) -> CodeHost:
    if settings.uses_github:
        from core.adapters.github.factory import github_code_host

        return github_code_host(settings)
    from core.adapters.local_code_host import LocalCodeHost

    return LocalCodeHost(
        Path(settings.data_dir),
        clock,
        workflows=settings.workflows(),
        environments_of=lambda repo: environments_in(projects, repo),
        runner=build_local_runner(settings, clock),
    )


def build_model(settings: Settings) -> ChatModel:
    """OpenAI with the rules as fallback when a key is set; the rules alone otherwise.

    Without a key nothing of OpenAI is imported (the SDK is the optional extra
    ``tfpilot[openai]``). A key without the SDK stops start-up naming both fixes: the operator
    set the key to get the model, so quietly running on the rules would hide the mistake."""
    if settings.openai_api_key is None:
        from assistant.domain.rules import RuleExtractor

        return RuleExtractor()
    from assistant.adapters.openai_model import OpenAIUnavailable, build_chat_model

    try:
        return build_chat_model(settings.openai_api_key.get_secret_value(), settings.openai_model)
    except OpenAIUnavailable as exc:
        raise SettingsError(str(exc), malformed=["OPENAI_API_KEY (the openai package is not installed)"]) from None


def build_notifier(
    settings: Settings, objects: ObjectStore, projects: ProjectsMap, clock: Clock | None = None
) -> Notifier:
    if settings.slack_bot_token is None and not settings.slack_oauth_enabled:
        return LoggingNotifier()
    from bot.slack_notifier import build_slack_notifier

    return build_slack_notifier(settings, objects=objects, projects=projects, clock=clock)


def build(settings: Settings, *, source: str = "slack", **overrides: Unpack[Overrides]) -> Deps:
    """The whole graph. ``overrides`` replace the pieces they name (tests, console);
    ``source`` says where conversations come from (``slack`` or ``console``)."""
    unknown = set(overrides) - _OVERRIDABLE
    if unknown:
        raise TypeError(f"unknown override(s): {', '.join(sorted(unknown))}")
    given: dict[str, Any] = dict(overrides)
    clock: Clock = given["clock"] if "clock" in given else SystemClock()
    client = s3_client(settings) if settings.requests_bucket or settings.chat_logs_bucket else None
    objects: ObjectStore = given["objects"] if "objects" in given else build_objects(settings, client)
    store = given["store"] if "store" in given else ObjectRequestStore(objects, clock)
    audit = given["audit"] if "audit" in given else ObjectAuditLog(objects, clock)
    chat_log = given["chat_log"] if "chat_log" in given else build_chat_log(settings, clock, client)
    registry = given["registry"] if "registry" in given else load_registry(settings.modules_dir)
    # A projects map allowing a module the registry lacks is refused at start, not at first use.
    projects = (
        given["projects"]
        if "projects" in given
        else load_projects(settings.projects_file, known_modules=registry.ids())
    )
    code_host = given["code_host"] if "code_host" in given else build_code_host(settings, clock, projects)
    notifier = given["notifier"] if "notifier" in given else build_notifier(settings, objects, projects, clock)
    policy = given["policy"] if "policy" in given else settings.policy()
    workflows = settings.workflows()
    # Infra repos of the local forge carry TfPilot's in-repo modules; GitHub ones use the registry.
    renderer = (
        given["renderer"]
        if "renderer" in given
        else registry_renderer(registry, module_sources="registry" if settings.uses_github else "repo")
    )
    # The events every write commits run on one bus after the write: audit records, notices
    # (once per event across processes) and continuations.
    bus = MessageBus(audit, notifier, Once(objects, "dedupe/events"))
    requests = given.get("requests") or RequestService(
        store, audit, code_host, registry, projects, notifier, clock, policy, workflows, renderer=renderer, bus=bus
    )
    sync = given.get("sync") or SyncService(store, code_host, notifier, audit, clock, workflows, bus=bus)
    # A fact that unblocks a waiting operation (the cleanup PR of a destroy appeared) continues it;
    # the resume of a destroy still waiting refreshes it from the code host (a lost webhook).
    bus.on_resume(requests.resume)
    bus.on_refresh(sync.sync)
    queries = given.get("queries") or QueryService(store, audit, chat_log, clock)
    # The Slack notifier hands where it posted the card and its copies back as engine commands
    # (it never writes the document), and reads one only through the core's query.
    connect = getattr(notifier, "connect", None)
    if callable(connect):
        connect(requests, queries.get)
    # The local forge reports its runs like GitHub's webhooks do: into the SyncService.
    attach = getattr(code_host, "attach", None)
    if callable(attach) and getattr(code_host, "on_fact", None) is None:
        attach(lambda fact: sync.apply_fact(fact, source="local-runner"))
    model = given["chat_model"] if "chat_model" in given else build_model(settings)
    intake = given.get("intake") or IntakeService(
        objects,
        chat_log,
        registry,
        projects,
        requests,
        model,
        clock,
        source=source,
        queries=queries,
        refusal_text=reason_text,
    )
    return Deps(
        settings=settings,
        clock=clock,
        objects=objects,
        store=store,
        audit=audit,
        chat_log=chat_log,
        registry=registry,
        projects=projects,
        code_host=code_host,
        notifier=notifier,
        policy=policy,
        requests=requests,
        sync=sync,
        queries=queries,
        drift=given.get("drift") or DriftService(store, audit, notifier, clock, bus=bus),
        intake=intake,
        bus=bus,
    )
