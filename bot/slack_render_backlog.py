"""Cards and thread replies Slack did not take: recorded, then rendered again.

The notifier's client already retries rate limits, 5xx and connection errors; a notification
that still fails (Slack down for a minute) would leave the card stale for good and the
transition's reply missing. So the notifier records the transition here, one object per miss
(``slack-render/<request id>/<time>-<token>.json``, created only when absent: concurrent misses
never overwrite each other), and renders it again later: at the next notification of the same
request, or at the reconciler's next pass (``SlackNotifier.render_missed``). An entry is deleted
once its card and reply went out; listing costs only what is pending.

A notification that went through does not list anything unless a render is known to be
missing for its request: one this process recorded, or one the reconciler's pass found (misses
of other processes and of before a restart). So the happy path costs no S3 call here; a miss
recorded by another process goes out at the reconciler's next pass (and from then on at the
next notification here too). Once a listing of a request finds nothing, it is forgotten.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from core.ports.notifier import Transition
from core.ports.object_store import ObjectStore

log = logging.getLogger(__name__)

PREFIX = "slack-render/"
# Approvers' copies of the card left to post (``bot.card_copies``): their own entries, since
# rendering one posts copies, never the card's reply.
COPIES_PREFIX = "slack-copies/"


@dataclass(frozen=True)
class Missed:
    key: str
    request_id: str
    transition: Transition


class RenderBacklog:
    def __init__(self, objects: ObjectStore, prefix: str = PREFIX) -> None:
        self._objects = objects
        self._prefix = prefix
        # Requests with entries this process knows of (recorded here, or seen by a full listing).
        self._known: set[str] = set()
        self._rendered: set[str] = set()  # keys done() while their listing is being walked
        self._known_guard = threading.Lock()

    def record(self, request_id: str, transition: Transition, *, at: datetime) -> None:
        stamp = at.strftime("%Y%m%dT%H%M%S%f")
        key = f"{self._prefix}{request_id}/{stamp}-{secrets.token_hex(4)}.json"
        self._know(request_id)  # before the write: a concurrent render then lists it
        self._objects.put(key, transition.model_dump_json().encode(), if_none_match=True)

    def _know(self, request_id: str) -> None:
        with self._known_guard:
            if len(self._known) > 10_000:
                self._known.clear()  # bounded; the reconciler's full pass still finds them all
            self._known.add(request_id)

    def known_missing(self, request_id: str) -> bool:
        with self._known_guard:
            return request_id in self._known

    def missed(self, request_id: str | None = None, *, limit: int = 200) -> Iterator[Missed]:
        """What is pending (of one request, or all), oldest first per request. For one request
        not known to have missed a render, nothing (and no listing)."""
        if request_id is not None and not self.known_missing(request_id):
            return
        prefix = f"{self._prefix}{request_id}/" if request_id else self._prefix
        walked: dict[str, list[str]] = {request_id: []} if request_id else {}
        complete = False
        try:
            for n, key in enumerate(self._objects.list_keys(prefix)):
                if n >= limit:
                    return
                owner = key[len(self._prefix) :].split("/", 1)[0]
                self._know(owner)
                walked.setdefault(owner, [])
                stored = self._objects.get(key)
                if stored is None:
                    continue
                try:
                    transition = Transition.model_validate_json(stored.body)
                except ValidationError:
                    log.warning("unreadable render backlog entry %s: dropped", key)
                    self._objects.delete(key)
                    continue
                walked[owner].append(key)
                yield Missed(key=key, request_id=owner, transition=transition)
            complete = True
        finally:
            with self._known_guard:
                for owner, keys in walked.items():
                    if complete and all(key in self._rendered for key in keys):
                        self._known.discard(owner)  # all rendered (or none was left): forget it
                    self._rendered.difference_update(keys)

    def done(self, missed: Missed) -> None:
        self._objects.delete(missed.key)
        with self._known_guard:
            self._rendered.add(missed.key)
