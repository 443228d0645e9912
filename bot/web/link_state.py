"""The ``state`` of the GitHub account-linking flow: signed, expiring, single-use, bound to one
Slack user.

A state is ``<payload>.<mac>``: the payload is base64url JSON ``{v, t: team, u: user, n: nonce,
e: expiry (epoch seconds)}`` and the mac an HMAC-SHA256 over it with a key derived (HKDF) from
``TFPILOT_ENCRYPTION_KEY`` for this purpose only. ``verify`` checks the mac in constant time,
then the expiry; the callback then spends the nonce with ``Once`` (``oauth/states/used/``), so
a state works once across every replica. States minted by the Slack side's stored form
(``oauth/states/<state>.json``, random, with ``kind: github_link``) are also accepted.
Every refusal carries a reason for the page and the log, and an HTTP status: 400 for a state
that is malformed or forged, 403 for one that expired or was already used.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.web.identities import derive_key
from core.ports.object_store import ObjectStore
from core.services.once import Once

STATE_TTL = timedelta(minutes=10)
USED_PREFIX = "oauth/states/used"
STORED_PREFIX = "oauth/states"
_INFO = b"tfpilot/github-link/state/v1"
_SLACK_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_SIGNED_STATE = re.compile(r"^[A-Za-z0-9_-]{1,900}\.[A-Za-z0-9_-]{43}$")
_STORED_STATE = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
MAX_STATE_LENGTH = 1024


class StateRefused(Exception):
    def __init__(self, reason: str, status: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class LinkState:
    team_id: str | None
    user_id: str
    nonce: str
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def valid_slack_id(value: str | None) -> bool:
    return value is not None and bool(_SLACK_ID.match(value))


class LinkStates:
    def __init__(self, secret: str, objects: ObjectStore, *, ttl: timedelta = STATE_TTL) -> None:
        self._key = derive_key(secret, _INFO)
        self._objects = objects
        self._used = Once(objects, USED_PREFIX)
        self._ttl = ttl

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest())

    def issue(self, team_id: str | None, user_id: str, now: datetime) -> str:
        if not valid_slack_id(user_id) or (team_id is not None and not valid_slack_id(team_id)):
            raise ValueError("a link state needs a Slack user id (and team id) of safe characters")
        doc = {
            "v": 1,
            "t": team_id,
            "u": user_id,
            "n": secrets.token_urlsafe(18),
            "e": int((now + self._ttl).timestamp()),
        }
        payload = _b64(json.dumps(doc, separators=(",", ":")).encode("utf-8"))
        return f"{payload}.{self._mac(payload)}"

    def verify(self, state: str | None, now: datetime) -> LinkState:
        """The state's claims when it is genuine and unexpired (not yet spent: see ``spend``)."""
        if not state:
            raise StateRefused("the link is missing its state parameter", 400)
        if len(state) > MAX_STATE_LENGTH:
            raise StateRefused("the state parameter is malformed", 400)
        if "." not in state:
            return self._verify_stored(state, now)
        if not _SIGNED_STATE.match(state):
            raise StateRefused("the state parameter is malformed", 400)
        payload, _, mac = state.partition(".")
        if not hmac.compare_digest(self._mac(payload).encode("ascii"), mac.encode("ascii")):
            raise StateRefused("the state parameter is not one TfPilot issued", 400)
        try:
            doc = json.loads(_unb64(payload))
            team, user, nonce, expiry = doc.get("t"), doc["u"], doc["n"], int(doc["e"])
        except (ValueError, KeyError, TypeError, binascii.Error, AttributeError):
            raise StateRefused("the state parameter is malformed", 400) from None
        if (
            not valid_slack_id(user)
            or (team is not None and not valid_slack_id(team))
            or not isinstance(nonce, str)
            or not _NONCE.match(nonce)
        ):
            raise StateRefused("the state parameter is malformed", 400)
        expires_at = datetime.fromtimestamp(expiry, now.tzinfo)
        if now >= expires_at:
            raise StateRefused("this link has expired: run /tfpilot link in Slack again", 403)
        return LinkState(team_id=team, user_id=user, nonce=nonce, expires_at=expires_at)

    def _verify_stored(self, state: str, now: datetime) -> LinkState:
        if not _STORED_STATE.match(state):
            raise StateRefused("the state parameter is malformed", 400)
        stored = self._objects.get(f"{STORED_PREFIX}/{state}.json")
        if stored is None:
            raise StateRefused("the state parameter is not one TfPilot issued", 400)
        try:
            doc = json.loads(stored.body)
            expires_at = datetime.fromisoformat(str(doc["expires_at"]))
            team, user = doc.get("team_id"), doc["user_id"]
        except (ValueError, KeyError, TypeError):
            raise StateRefused("the state parameter is malformed", 400) from None
        if (
            doc.get("kind") != "github_link"
            or expires_at.tzinfo is None  # cannot be compared with now: not one the Slack side wrote
            or not valid_slack_id(user)
            or (team is not None and not valid_slack_id(team))
        ):
            raise StateRefused("the state parameter is malformed", 400)
        if now >= expires_at:
            raise StateRefused("this link has expired: run /tfpilot link in Slack again", 403)
        return LinkState(team_id=team, user_id=user, nonce=f"stored-{state}", expires_at=expires_at)

    def binding(self, state: LinkState) -> str:
        """The value of the cookie that ties the callback to the browser that started the flow."""
        return self._mac(f"browser:{state.nonce}")

    def is_spent(self, state: LinkState) -> bool:
        return self._objects.get(f"{USED_PREFIX}/{state.nonce}") is not None

    def spend(self, state: LinkState, now: datetime) -> None:
        """Mark the state used; ``StateRefused`` (403) when someone already did."""
        if not self._used.first(state.nonce, at=now):
            raise StateRefused("this link was already used: run /tfpilot link in Slack again", 403)
