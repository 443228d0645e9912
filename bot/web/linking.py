"""GitHub account linking: a Slack user proves which GitHub account is theirs (OAuth web flow).

``make_link_url(deps, team, user)`` (for ``/tfpilot link`` in Slack) mints a signed, expiring
state bound to that Slack user (``bot.web.link_state``) and returns
``{TFPILOT_PUBLIC_URL}/github/link/start?state=…``. ``GET /github/link/start`` checks the state
(genuine, unexpired, unspent), sets a cookie binding the flow to this browser, and redirects to
``{TFPILOT_GITHUB_WEB_URL}/login/oauth/authorize``. ``GET /github/link/callback`` checks the
state and the cookie again, spends the state (single use, across replicas), exchanges the code
(``POST {web}/login/oauth/access_token``), reads the login (``GET {api}/user``), stores the
token Fernet-encrypted at ``identities/<team>/<user>.json`` and DMs the user. Every refusal is
a short HTML page with the reason and a 400/403 (bad state), 502 (GitHub failed) or 503 (not
configured). ``POST /github/link/unlink`` (bearer) and ``unlink_account(deps, team, user)``
forget a link. The code, the token and the state are never logged.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from bot.identity import LinkedIdentities
from bot.settings import SettingsError
from bot.web.auth import ApiToken, constant_equals
from bot.web.body import ERROR_RESPONSES
from bot.web.context import DirectMessage, WebContext, web_context
from bot.web.link_state import LinkState, LinkStates, StateRefused

if TYPE_CHECKING:
    from bot.deps import Deps

log = logging.getLogger(__name__)
router = APIRouter(tags=["github-linking"])

START_PATH = "/github/link/start"
CALLBACK_PATH = "/github/link/callback"
UNLINK_PATH = "/github/link/unlink"
COOKIE = "tfpilot_link"
# Reviews are posted as the user on (usually private) infra repos.
OAUTH_SCOPE = "repo"
SLACK_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>TfPilot: {title}</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 4em auto;">
<h1>{title}</h1><p>{message}</p></body></html>
"""


def page(status: int, title: str, message: str) -> HTMLResponse:
    body = _PAGE.format(title=html.escape(title), message=html.escape(message))
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def _missing_config(ctx: WebContext) -> list[str]:
    s = ctx.settings
    missing = []
    if not s.github_client_id:
        missing.append("GITHUB_CLIENT_ID")
    if s.github_client_secret is None:
        missing.append("GITHUB_CLIENT_SECRET")
    if s.encryption_key is None:
        missing.append("TFPILOT_ENCRYPTION_KEY")
    if not s.public_url:
        missing.append("TFPILOT_PUBLIC_URL")
    return missing


def _states(deps: Deps) -> LinkStates:
    if deps.settings.encryption_key is None:
        raise SettingsError("GitHub linking needs TFPILOT_ENCRYPTION_KEY")
    return LinkStates(deps.settings.encryption_key.get_secret_value(), deps.objects)


def make_link_url(deps: Deps, team_id: str | None, user_id: str) -> str:
    """The URL a Slack user opens to link their GitHub account (valid 10 minutes, once)."""
    base = deps.settings.public_url
    if not base:
        raise SettingsError("GitHub linking needs TFPILOT_PUBLIC_URL")
    state = _states(deps).issue(team_id, user_id, deps.clock.now())
    return f"{base}{START_PATH}?{urlencode({'state': state})}"


def link_url_for(deps: Deps) -> Callable[[str | None, str], str | None]:
    """``make_link_url`` as the Slack app's ``link_url`` hook (None when linking is not configured)."""

    def link_url(team_id: str | None, user_id: str) -> str | None:
        s = deps.settings
        if not (s.public_url and s.encryption_key and s.github_client_id and s.github_client_secret):
            return None
        return make_link_url(deps, team_id, user_id)

    return link_url


def unlink_account(deps: Deps, team_id: str | None, user_id: str) -> bool:
    """Forget a Slack user's linked GitHub account (and its stored token); True when one existed."""
    return LinkedIdentities(deps.objects).unlink(team_id, user_id)


def default_dm(deps: Deps) -> DirectMessage | None:
    """A sender of DMs through Slack: the deps' ``slack_client`` when it has one, else the bot
    token, else the workspace's installation (OAuth); None when Slack is not configured."""
    settings = deps.settings
    given = getattr(deps, "slack_client", None)
    if given is None and settings.slack_bot_token is None and not settings.slack_oauth_enabled:
        return None

    def send(team_id: str | None, user_id: str, text: str) -> None:
        client: Any = given
        if client is None:
            from bot.slack_notifier import web_client

            if settings.slack_bot_token is not None:
                client = web_client(settings)
            else:
                from bot.slack_oauth import installation_store

                bot = installation_store(settings).find_bot(enterprise_id=None, team_id=team_id)
                if bot is None or not bot.bot_token:
                    log.warning("no Slack installation for team %s: link confirmation not sent", team_id)
                    return
                client = web_client(settings, token=bot.bot_token)
        client.chat_postMessage(channel=user_id, text=text)

    return send


# --- routes ---------------------------------------------------------------------------------


def _refused(exc: StateRefused) -> HTMLResponse:
    log.warning("GitHub link refused: %s", exc.reason)
    return page(exc.status, "Link refused", exc.reason)


def _not_configured(missing: list[str]) -> HTMLResponse:
    return page(503, "Linking unavailable", f"GitHub account linking is not configured (missing {', '.join(missing)}).")


@router.get(
    START_PATH,
    response_class=HTMLResponse,
    status_code=302,
    summary="Start linking a GitHub account (opened from Slack)",
    responses={
        302: {"description": "redirect to GitHub's authorize page"},
        400: {"description": "malformed or forged state", "content": {"text/html": {}}},
        403: {"description": "expired or used state", "content": {"text/html": {}}},
        503: {"description": "linking not configured", "content": {"text/html": {}}},
    },
)
def link_start(request: Request, state: Annotated[str | None, Query(max_length=1024)] = None) -> Response:
    ctx = web_context(request)
    missing = _missing_config(ctx)
    if missing:
        return _not_configured(missing)
    states = ctx.link_states()
    assert states is not None  # TFPILOT_ENCRYPTION_KEY is set
    try:
        claims = states.verify(state, ctx.deps.clock.now())
        if states.is_spent(claims):
            raise StateRefused("this link was already used: run /tfpilot link in Slack again", 403)
    except StateRefused as exc:
        return _refused(exc)
    s = ctx.settings
    query = urlencode(
        {
            "client_id": s.github_client_id,
            "redirect_uri": f"{s.public_url}{CALLBACK_PATH}",
            "state": state,
            "scope": OAUTH_SCOPE,
            "allow_signup": "false",
        }
    )
    response = RedirectResponse(f"{s.github_web_url}/login/oauth/authorize?{query}", status_code=302)
    response.set_cookie(
        COOKIE,
        states.binding(claims),
        max_age=int((claims.expires_at - ctx.deps.clock.now()).total_seconds()) + 1,
        path="/github/link",
        httponly=True,
        secure=bool(s.public_url and s.public_url.startswith("https://")),
        samesite="lax",
    )
    response.headers["Cache-Control"] = "no-store"
    return response


class _LinkFailed(Exception):
    pass


def _exchange(ctx: WebContext, code: str) -> tuple[str, list[str]]:
    s = ctx.settings
    assert s.github_client_secret is not None
    try:
        response = ctx.http().post(
            f"{s.github_web_url}/login/oauth/access_token",
            data={
                "client_id": s.github_client_id or "",
                "client_secret": s.github_client_secret.get_secret_value(),
                "code": code,
                "redirect_uri": f"{s.public_url}{CALLBACK_PATH}",
            },
            headers={"Accept": "application/json"},
        )
        doc = response.json() if response.status_code == 200 else None
    except Exception as exc:
        raise _LinkFailed(f"GitHub could not be reached ({type(exc).__name__})") from None
    if not isinstance(doc, dict):
        raise _LinkFailed(f"GitHub answered the code exchange with HTTP {response.status_code}")
    token = doc.get("access_token")
    if not isinstance(token, str) or not token:
        error = str(doc.get("error") or "no access token")[:80]
        raise _LinkFailed(f"GitHub refused the code ({error}): start again from Slack")
    scopes = [p.strip() for p in str(doc.get("scope") or "").split(",") if p.strip()]
    return token, scopes


def _github_user(ctx: WebContext, token: str) -> tuple[str, int | None]:
    try:
        response = ctx.http().get(
            f"{ctx.settings.github_api_url}/user",
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
            },
        )
        doc = response.json() if response.status_code == 200 else None
    except Exception as exc:
        raise _LinkFailed(f"GitHub could not be reached ({type(exc).__name__})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("login"), str):
        raise _LinkFailed(f"GitHub did not say who you are (HTTP {response.status_code})")
    github_id = doc.get("id")
    return doc["login"], github_id if isinstance(github_id, int) else None


def _complete(ctx: WebContext, claims: LinkState, code: str) -> Response:
    accounts = ctx.linked_accounts()
    assert accounts is not None
    try:
        token, scopes = _exchange(ctx, code)
        login, github_id = _github_user(ctx, token)
    except _LinkFailed as exc:
        log.warning("GitHub link of Slack user %s failed: %s", claims.user_id, exc)
        return page(502, "Link failed", str(exc))
    accounts.put(
        claims.team_id,
        claims.user_id,
        github_login=login,
        token=token,
        github_id=github_id,
        scopes=scopes,
        linked_at=ctx.deps.clock.now(),
    )
    log.info("linked Slack user %s to GitHub @%s", claims.user_id, login)
    if ctx.dm is not None:
        try:
            ctx.dm(
                claims.team_id,
                claims.user_id,
                f":link: Your Slack account is now linked to GitHub *@{login}*. "
                "Your approvals will be posted as your own GitHub reviews. Run `/tfpilot link` to change it.",
            )
        except Exception:
            log.warning("the link confirmation DM to %s failed", claims.user_id, exc_info=True)
    response = page(200, "GitHub account linked", f"Linked to GitHub @{login}. You can close this window.")
    response.delete_cookie(COOKIE, path="/github/link")
    return response


@router.get(
    CALLBACK_PATH,
    response_class=HTMLResponse,
    summary="GitHub's redirect back after authorizing",
    responses={
        400: {"description": "malformed or forged state, or GitHub reported an error", "content": {"text/html": {}}},
        403: {"description": "expired or reused state, or another browser", "content": {"text/html": {}}},
        502: {"description": "GitHub failed", "content": {"text/html": {}}},
        503: {"description": "linking not configured", "content": {"text/html": {}}},
    },
)
async def link_callback(
    request: Request,
    code: Annotated[str | None, Query(max_length=512)] = None,
    state: Annotated[str | None, Query(max_length=1024)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    ctx = web_context(request)
    missing = _missing_config(ctx)
    if missing:
        return _not_configured(missing)
    if error:
        return page(400, "Link cancelled", f"GitHub did not authorize TfPilot ({error[:80]}).")
    states = ctx.link_states()
    assert states is not None
    now = ctx.deps.clock.now()
    try:
        claims = states.verify(state, now)
        if await run_in_threadpool(states.is_spent, claims):
            raise StateRefused("this link was already used: run /tfpilot link in Slack again", 403)
        if not constant_equals(request.cookies.get(COOKIE), states.binding(claims)):
            raise StateRefused("finish linking in the browser where you started it (run /tfpilot link again)", 403)
        if not code:
            raise StateRefused("GitHub's answer has no code", 400)
        await run_in_threadpool(states.spend, claims, now)
    except StateRefused as exc:
        return _refused(exc)
    return await run_in_threadpool(_complete, ctx, claims, code)


class UnlinkIn(BaseModel):
    team_id: str | None = Field(default=None, pattern=SLACK_ID_PATTERN)
    user_id: str = Field(pattern=SLACK_ID_PATTERN)


class UnlinkOut(BaseModel):
    unlinked: bool
    team_id: str | None
    user_id: str


@router.post(
    UNLINK_PATH,
    response_model=UnlinkOut,
    dependencies=[ApiToken],
    summary="Forget a Slack user's linked GitHub account",
    responses=ERROR_RESPONSES,
)
def unlink(request: Request, body: UnlinkIn) -> UnlinkOut:
    ctx = web_context(request)
    done = unlink_account(ctx.deps, body.team_id, body.user_id)
    return UnlinkOut(unlinked=done, team_id=body.team_id, user_id=body.user_id)
