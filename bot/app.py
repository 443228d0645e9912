"""``create_app(deps)``: the sync Bolt ``App`` with every TfPilot listener registered.

One app serves both modes. Socket Mode (``bot.socket_mode``) runs it with
``process_before_response=False``; HTTP mode (mounted at ``/slack/events`` by the side
service through ``fastapi_handler(app)``) should use ``process_before_response=True``: acks are
then written by the HTTP request's own thread, and the work runs afterwards on the listener
pool (``Kit.later``), so a slow GitHub never delays an ack. The Web API base URL comes from ``SLACK_API_URL``. With
``SLACK_CLIENT_ID``/``SLACK_CLIENT_SECRET`` the app is multi-workspace (``bot.slack_oauth``).
Nothing here runs at import time; building the app makes no network call unless
``token_verification_enabled`` asks for ``auth.test``: ``tfpilot serve`` does, so that a bad
token stops start-up and no request ever waits for ``auth.test`` before its ack.
"""

from __future__ import annotations

import importlib
import logging
import re
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from slack_bolt import App
from slack_bolt.error import BoltError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.after_acks import AckGate, AfterAcks
from bot.listeners import LISTENER_MODULES
from bot.listeners.commands import LinkUrl
from bot.listeners.common import Kit
from bot.settings import Settings, SettingsError
from bot.slack_notifier import client_like, web_client
from bot.slack_revocation import register_revocation_listeners

if TYPE_CHECKING:
    from slack_bolt.oauth.oauth_settings import OAuthSettings

    from bot.deps import Deps

log = logging.getLogger(__name__)

# Listener threads. With process_before_response=False (Socket Mode) the ack functions share this
# pool with the work done after acks, so it must be large enough that acks never queue behind
# GitHub calls. In HTTP mode acks run on the request's thread and the pool only does the work:
# fewer threads hold the GIL less during a burst of clicks (bench_slack), at the cost of slower
# background work.
SOCKET_MODE_WORKERS = 64
HTTP_MODE_WORKERS = 16
_AUTO: Any = object()


def create_app(
    deps: Deps,
    *,
    client: WebClient | None = None,
    token_verification_enabled: bool = False,
    process_before_response: bool = False,
    signing_secret: str | None = None,
    oauth_settings: OAuthSettings | None = _AUTO,
    listener_executor: Executor | None = None,
    link_url: LinkUrl | None = None,
    kit: Kit | None = None,
    ack_gate: AckGate | None = None,
) -> App:
    """The Bolt app over ``deps``.

    ``client`` overrides the Web API client (tests point one at a fake Slack); without it the
    client is built from settings (``SLACK_BOT_TOKEN``, ``SLACK_API_URL``). ``oauth_settings``
    defaults to the settings' OAuth configuration (None: single workspace). With ``ack_gate``
    (HTTP mode: the ``/slack/events`` route marks its acks on it), the work listeners hand to
    ``Kit.later`` waits in ``AfterAcks`` until no ack is in progress (modal openers excepted:
    their ``trigger_id`` expires)."""
    settings = deps.settings
    secret = signing_secret
    if secret is None and settings.slack_signing_secret is not None:
        secret = settings.slack_signing_secret.get_secret_value()
    oauth = _oauth_settings(settings) if oauth_settings is _AUTO else oauth_settings
    workers = HTTP_MODE_WORKERS if process_before_response else SOCKET_MODE_WORKERS
    executor = listener_executor or ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bolt")
    common: dict[str, Any] = {
        # Bolt names a logger after the app and pins its level: a child name keeps that off
        # the "tfpilot" logger every module logs under.
        "name": "tfpilot.slack",
        "signing_secret": secret or "",
        "process_before_response": process_before_response,
        "listener_executor": executor,
        "request_verification_enabled": True,
    }
    if oauth is not None:
        # Tokens come from the installation store per workspace; Bolt copies the client's
        # base URL, timeout and retry handlers into each per-request client.
        base = client or web_client(settings, token=None)
        from bot.slack_oauth import cached_authorize

        # Bolt accepts an Authorize instance here, though its annotation names only callables.
        cache = cached_authorize(oauth)
        authorize: Any = cache
        app = App(
            client=client_like(base, None),
            oauth_settings=oauth,
            authorize=authorize,
            **common,
        )
    else:
        cache = None
        if client is None:
            client = web_client(settings)
        if not client.token:
            raise SettingsError("the Slack app needs SLACK_BOT_TOKEN (or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET)")
        app = _single_workspace_app(client, token_verification_enabled, common)
    # A pool given by the caller (tests, the bench) runs everything; otherwise modal openers
    # get their own few threads (Kit.later(opens_modal=True)).
    work: Executor = executor if ack_gate is None else AfterAcks(executor, ack_gate)
    shared = kit or Kit.build(deps, executor=work, modal_executor=listener_executor)
    if shared.executor is None:
        shared.executor = work
    register_all(app, deps, kit=shared, link_url=link_url)
    register_revocation_listeners(app, cache)

    @app.error
    def log_errors(error: Exception, body: dict[str, Any]) -> None:
        log.error("unhandled %s in a Slack listener (%s)", type(error).__name__, body.get("type"), exc_info=error)

    return app


def _oauth_settings(settings: Settings) -> OAuthSettings | None:
    # The installation and state stores (and their S3 modules) load only in OAuth mode.
    if not settings.slack_oauth_enabled:
        return None
    from bot.slack_oauth import oauth_settings

    return oauth_settings(settings)


def _single_workspace_app(client: WebClient, verify: bool, common: dict[str, Any]) -> App:
    """The app on one bot token. With ``verify`` (``tfpilot serve``), Bolt calls ``auth.test``
    here, once, and keeps the answer for every request; without it Bolt calls ``auth.test`` on
    the first request instead, before its ack. A token Slack refuses, or a Slack that cannot be
    reached, stops start-up with a ``SettingsError`` naming the setting (never the token)."""
    try:
        return App(client=client, token_verification_enabled=verify, **common)
    except BoltError as exc:
        # Bolt raises from inside its ``except SlackApiError``: the API error is the context.
        cause = exc.__context__
        code = cause.response.get("error") if isinstance(cause, SlackApiError) else None
        raise SettingsError(
            f"Slack refused SLACK_BOT_TOKEN (auth.test: {code or 'failed'}): use the app's bot token "
            "(xoxb-...) from OAuth & Permissions, reinstalled if it was revoked"
        ) from None
    except (OSError, SlackClientError) as exc:
        raise SettingsError(
            f"cannot reach Slack's Web API at {client.base_url} to verify SLACK_BOT_TOKEN ({type(exc).__name__}): "
            "check SLACK_API_URL and the network"
        ) from None


def register_all(app: App, deps: Deps, *, kit: Kit | None = None, link_url: LinkUrl | None = None) -> Kit:
    """Register every listener module on ``app``, sharing one ``Kit`` (identity cache, dedupe)."""
    shared = kit or Kit.build(deps)
    for name in LISTENER_MODULES:
        module = importlib.import_module(name)
        if name == "bot.listeners.commands":
            module.register(app, deps, kit=shared, link_url=link_url)
        else:
            module.register(app, deps, kit=shared)
    return shared


_IM_EVENT = re.compile(rb'"channel_type"\s*:\s*"im"')


def ack_needs_io(body: bytes | str) -> bool:
    """Whether acknowledging this Slack request may wait on I/O, so that ``dispatch`` must not
    run on an event loop. Modal submissions do: their inline errors (``response_action:
    errors``) need the session or the request read before the ack. So do messages in a DM's
    thread: the assistant-thread middleware reads whether the thread is an assistant thread
    before it picks a listener. Every other ack is CPU only (parse, verify, ``ack()``, hand the
    work to the pool) and can run on the loop, which saves a threadpool hop per ack
    (``bench_slack``). The check is a substring test on the raw body: it errs only towards the
    threadpool."""
    raw = body.encode() if isinstance(body, str) else body
    if b"view_submission" in raw:
        return True
    return b"thread_ts" in raw and _IM_EVENT.search(raw) is not None


def fastapi_handler(app: App) -> Any:
    """Bolt's FastAPI adapter over ``app``, for ``/slack/events`` and the OAuth paths. Its
    ``handle`` dispatches on the event loop; a route that runs ``handler.app.dispatch`` itself
    can keep the loop for the acks where ``ack_needs_io`` is false."""
    from slack_bolt.adapter.fastapi import SlackRequestHandler

    return SlackRequestHandler(app)


def wsgi_app(app: App) -> Any:
    """A WSGI application serving ``app`` (used by the bench; any WSGI server can run it)."""
    from slack_bolt.adapter.wsgi import SlackRequestHandler

    return SlackRequestHandler(app)
