"""Who is clicking: Slack user -> email (``users.info``, cached with a TTL) -> ``Actor`` with a
role from the policy lists (Slack user ids or emails), plus the linked GitHub login.

Linked GitHub accounts are written by the side service at ``identities/<team>/<user>.json``;
``LinkedIdentities`` reads just the login from there (never the token). A failing ``users.info``
is not fatal: the actor keeps their user id, which the policy lists may name directly.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.domain.policy import Actor, Policy, Role
from core.domain.request import Requester
from core.ports.object_store import ObjectStore

log = logging.getLogger(__name__)

_ID_RE = re.compile(r"^[A-Z0-9]{2,32}$")
_LOGIN_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")


def identity_key(team_id: str | None, user_id: str) -> str:
    return f"identities/{team_id or 'none'}/{user_id}.json"


class LinkedIdentities:
    """Reads (and forgets) the GitHub account linked to a Slack user."""

    def __init__(self, objects: ObjectStore) -> None:
        self._objects = objects

    def unlink(self, team_id: str | None, user_id: str) -> bool:
        """Forget the user's linked GitHub account and its stored token; True when one existed."""
        key = identity_key(team_id, user_id)
        if self._objects.get(key) is None:
            return False
        self._objects.delete(key)
        log.info("unlinked the GitHub account of Slack user %s", user_id)
        return True

    def github_login(self, team_id: str | None, user_id: str) -> str | None:
        if not _ID_RE.match(user_id) or (team_id is not None and not _ID_RE.match(team_id)):
            return None
        try:
            stored = self._objects.get(identity_key(team_id, user_id))
        except Exception:  # a storage hiccup must not block a click
            log.warning("reading the linked identity of %s failed", user_id, exc_info=True)
            return None
        if stored is None:
            return None
        try:
            doc = json.loads(stored.body)
        except ValueError:
            return None
        if not isinstance(doc, dict):
            return None
        for key in ("github_login", "githubLogin", "login"):
            value = doc.get(key)
            if isinstance(value, str) and _LOGIN_RE.match(value):
                return value
        github = doc.get("github")
        if isinstance(github, dict) and isinstance(github.get("login"), str) and _LOGIN_RE.match(github["login"]):
            return str(github["login"])
        return None


@dataclass(frozen=True)
class SlackProfile:
    user_id: str
    team_id: str | None
    name: str | None
    email: str | None
    github_login: str | None

    def actor(self) -> Actor:
        return Actor(id=self.user_id, email=self.email, name=self.name, github_login=self.github_login)

    def requester(self) -> Requester:
        return Requester(
            id=self.user_id, name=self.name, email=self.email, team_id=self.team_id, github_login=self.github_login
        )


class SlackIdentity:
    """Resolves Slack users, caching ``users.info`` answers for ``ttl_seconds``."""

    def __init__(
        self,
        policy: Policy,
        objects: ObjectStore | None = None,
        *,
        ttl_seconds: float = 600.0,
        monotonic: Callable[[], float] = time.monotonic,
        max_entries: int = 10_000,
    ) -> None:
        self._policy = policy
        self._linked = LinkedIdentities(objects) if objects is not None else None
        self._ttl = ttl_seconds
        self._now = monotonic
        self._max = max_entries
        self._cache: dict[tuple[str | None, str], tuple[float, str | None, str | None]] = {}
        self._lock = threading.Lock()
        self._inflight: dict[tuple[str | None, str], threading.Lock] = {}

    def _cached(self, key: tuple[str | None, str]) -> tuple[str | None, str | None] | None:
        with self._lock:
            hit = self._cache.get(key)
            return (hit[1], hit[2]) if hit is not None and hit[0] > self._now() else None

    def _lookup(self, client: Any, team_id: str | None, user_id: str) -> tuple[str | None, str | None]:
        key = (team_id, user_id)
        hit = self._cached(key)
        if hit is not None:
            return hit
        # One users.info per user at a time: a burst of clicks by one person waits for the
        # first lookup instead of sending the same call N times.
        with self._lock:
            gate = self._inflight.setdefault(key, threading.Lock())
        with gate:
            hit = self._cached(key)
            if hit is not None:
                return hit
            return self._fetch(client, key)

    def _fetch(self, client: Any, key: tuple[str | None, str]) -> tuple[str | None, str | None]:
        user_id = key[1]
        now = self._now()
        name: str | None = None
        email: str | None = None
        ok = False
        try:
            response = client.users_info(user=user_id)
            user = response.get("user") or {}
            profile = user.get("profile") or {}
            email = profile.get("email") or None
            name = profile.get("display_name") or profile.get("real_name") or user.get("name") or None
            ok = True
        except Exception:
            # Without the email the user still acts under their id; retry sooner next time.
            log.warning("users.info failed for %s", user_id, exc_info=True)
        ttl = self._ttl if ok else min(self._ttl, 30.0)
        with self._lock:
            if len(self._cache) >= self._max:
                self._cache.clear()
            self._cache[key] = (now + ttl, name, email)
            self._inflight.pop(key, None)
        return name, email

    def profile(self, client: Any, team_id: str | None, user_id: str) -> SlackProfile:
        name, email = self._lookup(client, team_id, user_id)
        login = self._linked.github_login(team_id, user_id) if self._linked is not None else None
        return SlackProfile(user_id=user_id, team_id=team_id, name=name, email=email, github_login=login)

    def actor(self, client: Any, team_id: str | None, user_id: str) -> Actor:
        return self.profile(client, team_id, user_id).actor()

    def role(self, actor: Actor) -> Role:
        return self._policy.role_of(actor)

    def forget(self, team_id: str | None, user_id: str) -> None:
        with self._lock:
            self._cache.pop((team_id, user_id), None)
