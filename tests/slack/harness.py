"""The Slack scenario harness: the real Bolt app over real services (requests, sync, queries,
drift), the real module registry and projects map, the real assistant, in-memory stores, an
in-memory code host, and a local fake Slack Web API server. Requests reach the app signed
(v0, with a test signing secret) and go through ``app.dispatch`` exactly as the HTTP adapter
would pass them.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from slack_bolt import App, BoltRequest, BoltResponse
from slack_sdk import WebClient

from bot.after_acks import AckGate
from bot.app import create_app
from bot.deps import Deps
from bot.settings import Settings, load_settings
from bot.slack_notifier import SlackNotifier, build_slack_notifier
from bot.slack_retry import slack_retry_handlers
from core.domain.facts import RunFact
from core.domain.request import Request
from core.domain.workflows import RunKind
from module_registry.projects import load_projects
from tests.fakes import InMemoryObjectStore, ManualClock, MemoryRequestStore
from tests.graph import build_graph
from tests.services.fake_code_host import FakeCodeHost
from tests.slack.fake_slack import FakeSlack

# Test-only values (not secrets): the signing secret the fake "Slack" signs with.
SIGNING_SECRET = "tfpilot-test-signing-secret"
BOT_TOKEN = "xoxb-tfpilot-test"
TEAM = "T111"

DEV = "U0DEV0001"  # developer (prod allowed)
APPROVER = "U0APP0001"  # approver
PROD_APPROVER = "U0PAP0001"  # approver, prod allowed
ADMIN = "U0ADM0001"  # admin (prod + prod destroy)
VIEWER = "U0VIEW001"  # nobody in the lists
EMAILS = {DEV: "dev@example.com", APPROVER: "approver@example.com", ADMIN: "admin@example.com"}


def sign(body: str, *, secret: str = SIGNING_SECRET, timestamp: int | None = None) -> dict[str, str]:
    """Slack's v0 request signature headers for ``body``."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"x-slack-request-timestamp": ts, "x-slack-signature": f"v0={digest}"}


def form_body(payload: dict[str, Any]) -> str:
    return urlencode({"payload": json.dumps(payload)})


def settings_for(fake: FakeSlack, data_dir: Path, **extra: str) -> Settings:
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake.api_url.rstrip("/"),
        "TFPILOT_DATA_DIR": str(data_dir),
        "TFPILOT_ADMINS": ADMIN,
        "TFPILOT_APPROVERS": f"{APPROVER},{PROD_APPROVER},approver2@example.com",
        "TFPILOT_DEVELOPERS": f"{DEV}",
        "TFPILOT_PROD_ALLOWED_USERS": f"{DEV},{PROD_APPROVER},{ADMIN}",
        "TFPILOT_DESTROY_PROD_ALLOWED_USERS": ADMIN,
        **extra,
    }
    return load_settings(env)


def build_deps(
    fake: FakeSlack,
    data_dir: Path,
    *,
    code_host: Any = None,
    wrap_notifier: Callable[[SlackNotifier], Any] | None = None,
    chat_log: Any = None,
    **extra: str,
) -> tuple[Deps, FakeCodeHost]:
    settings = settings_for(fake, data_dir, **extra)
    clock = ManualClock()
    objects = InMemoryObjectStore()
    store = MemoryRequestStore(clock, objects)
    host = code_host or FakeCodeHost(clock=clock)
    client = WebClient(
        token=BOT_TOKEN, base_url=fake.api_url, retry_handlers=slack_retry_handlers(sleep=lambda _seconds: None)
    )
    # The projects map (TFPILOT_PROJECTS_FILE, or the built-in example) names approvals channels.
    projects = load_projects(settings.projects_file)
    notifier = build_slack_notifier(settings, objects=objects, client=client, projects=projects)
    # The composition root builds the rest (the built-in registry included).
    deps = build_graph(
        settings,
        projects=projects,
        clock=clock,
        objects=objects,
        store=store,
        code_host=host,
        notifier=wrap_notifier(notifier) if wrap_notifier is not None else notifier,
        # The real adapter over the same objects when asked (it redacts), else an in-memory list.
        **({"chat_log": chat_log(objects, clock)} if chat_log is not None else {}),
    )
    notifier.connect(deps.requests, deps.queries.get)  # a wrapped notifier is not wired by the root
    return deps, host


@dataclass
class Harness:
    fake: FakeSlack
    deps: Deps
    host: FakeCodeHost
    app: App
    fixtures: Path
    executor: ThreadPoolExecutor
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # --- fixtures ----------------------------------------------------------------------------
    def fixture(self, name: str) -> dict[str, Any]:
        doc = json.loads((self.fixtures / "slack" / "payloads" / name).read_text())
        return copy.deepcopy(doc.get("body") or doc.get("payload") or doc.get("parsed"))

    # --- sending -----------------------------------------------------------------------------
    def send(
        self,
        body: str,
        content_type: str,
        *,
        headers: dict[str, str] | None = None,
        signed: dict[str, str] | None = None,
    ) -> BoltResponse:
        all_headers = {
            "content-type": content_type,
            **(signed if signed is not None else sign(body)),
            **(headers or {}),
        }
        return self.app.dispatch(BoltRequest(body=body, headers=all_headers))

    def event(
        self, event: dict[str, Any], *, event_id: str | None = None, retry_num: int | None = None
    ) -> BoltResponse:
        envelope = self.fixture("events_api_app_mention.json")
        envelope["event"] = event
        envelope["event_id"] = event_id or f"Ev{next(self._seq):08d}"
        envelope["team_id"] = TEAM
        headers = {"x-slack-retry-num": str(retry_num), "x-slack-retry-reason": "http_timeout"} if retry_num else None
        return self.send(json.dumps(envelope), "application/json", headers=headers)

    def dm(
        self, user: str, text: str, *, ts: str | None = None, thread_ts: str | None = None, **kw: Any
    ) -> BoltResponse:
        event = {
            "type": "message",
            "channel_type": "im",
            "channel": f"D{user[1:]}",
            "user": user,
            "text": text,
            "ts": ts or f"1700000000.{next(self._seq):06d}",
            "event_ts": ts or "1700000000.000001",
            "team": TEAM,
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        return self.event(event, **kw)

    def click(
        self,
        user: str,
        action: dict[str, Any],
        *,
        channel: str = "C0CARDS01",
        message_ts: str = "1800000000.000001",
        message: dict[str, Any] | None = None,
        action_ts: str | None = None,
    ) -> BoltResponse:
        payload = self.fixture("block_actions_button_click.json")
        payload["user"] = {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM}
        payload["team"]["id"] = TEAM
        payload["container"] = {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": False,
        }
        payload["channel"] = {"id": channel, "name": "infra"}
        payload["message"] = message or {"ts": message_ts, "text": "card", "blocks": []}
        payload["trigger_id"] = f"{next(self._seq)}.222.trigger"
        payload["actions"] = [{**action, "action_ts": action_ts or f"1800000100.{next(self._seq):06d}"}]
        return self.send(form_body(payload), "application/x-www-form-urlencoded")

    def click_home(
        self, user: str, action: dict[str, Any], *, view: dict[str, Any], action_ts: str | None = None
    ) -> BoltResponse:
        """A button clicked on the user's App Home tab: the container is the published view
        (no channel, no message, no response_url), as Slack sends it."""
        payload = self.fixture("block_actions_button_click.json")
        for key in ("channel", "message", "response_url"):
            payload.pop(key, None)
        view_id = str(view.get("id") or "VHOME0001")
        payload["user"] = {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM}
        payload["team"]["id"] = TEAM
        payload["container"] = {"type": "view", "view_id": view_id}
        payload["view"] = {**view, "id": view_id, "type": "home"}
        payload["trigger_id"] = f"{next(self._seq)}.444.trigger"
        payload["actions"] = [{**action, "action_ts": action_ts or f"1800000200.{next(self._seq):06d}"}]
        return self.send(form_body(payload), "application/x-www-form-urlencoded")

    def command(self, user: str, text: str, *, channel: str = "C0CHAN001") -> BoltResponse:
        parsed = self.fixture("slash_command.json")
        parsed.update(
            {
                "command": "/tfpilot",
                "text": text,
                "user_id": user,
                "team_id": TEAM,
                "channel_id": channel,
                "response_url": self.fake.response_url(f"cmd{next(self._seq)}"),
                "trigger_id": f"{next(self._seq)}.333.trigger",
            }
        )
        return self.send(urlencode(parsed), "application/x-www-form-urlencoded")

    def submit(self, user: str, view: dict[str, Any], state_values: dict[str, Any]) -> BoltResponse:
        payload = self.fixture("view_submission.json")
        payload["user"] = {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM}
        payload["team"]["id"] = TEAM
        submitted = payload["view"]
        submitted.update(
            {
                "callback_id": view["callback_id"],
                "private_metadata": view.get("private_metadata", ""),
                "blocks": view.get("blocks", []),
                "state": {"values": state_values},
                "title": view.get("title"),
            }
        )
        return self.send(form_body(payload), "application/x-www-form-urlencoded")

    # --- the GitHub side -----------------------------------------------------------------------
    def finish_run(self, request_id: str, kind: RunKind, conclusion: str = "success") -> Request:
        """GitHub finishes the request's ``kind`` run: the webhook facts reach SyncService."""
        run = self.deps.store.get(request_id).run(kind)
        assert run is not None and run.run_id is not None, f"no {kind} run recorded"
        for step in (self.host.start_run, lambda run_id: self.host.complete_run(run_id, conclusion)):
            info = step(run.run_id)
            self.deps.sync.apply_fact(RunFact(request_id=request_id, kind=kind, run=info))
        return self.deps.store.get(request_id)

    def close(self) -> None:
        self.executor.shutdown(wait=True)


def start_harness(
    fake: FakeSlack,
    tmp_path: Path,
    fixtures: Path,
    *,
    process_before_response: bool = True,
    ack_gate: AckGate | None = None,
    chat_log: Any = None,
    **env: str,
) -> Harness:
    for user, email in EMAILS.items():
        fake.add_user(user, email=email)
    for user in (PROD_APPROVER, VIEWER):
        fake.add_user(user)
    deps, host = build_deps(fake, tmp_path / "data", chat_log=chat_log, **env)
    executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="bolt-test")
    client = WebClient(token=BOT_TOKEN, base_url=fake.api_url)
    app = create_app(
        deps,
        client=client,
        process_before_response=process_before_response,
        listener_executor=executor,
        ack_gate=ack_gate,
    )
    return Harness(fake=fake, deps=deps, host=host, app=app, fixtures=fixtures, executor=executor)
