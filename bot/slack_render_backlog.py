"""Cards and thread replies Slack did not take: recorded, then rendered again.

The notifier's client already retries rate limits, 5xx and connection errors; a notification
that still fails (Slack down for a minute) would leave the card stale for good and the
transition's reply missing. So the notifier records the transition here, one object per miss
(``slack-render/<request id>/<time>-<token>.json``, created only when absent: concurrent misses
never overwrite each other), and renders it again later: at the next notification of the same
request, or at the reconciler's next pass (``SlackNotifier.render_missed``). An entry is deleted
once its card and reply went out; listing costs only what is pending.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from core.ports.notifier import Transition
from core.ports.object_store import ObjectStore

log = logging.getLogger(__name__)

PREFIX = "slack-render/"


@dataclass(frozen=True)
class Missed:
    key: str
    request_id: str
    transition: Transition


class RenderBacklog:
    def __init__(self, objects: ObjectStore) -> None:
        self._objects = objects

    def record(self, request_id: str, transition: Transition, *, at: datetime) -> None:
        stamp = at.strftime("%Y%m%dT%H%M%S%f")
        key = f"{PREFIX}{request_id}/{stamp}-{secrets.token_hex(4)}.json"
        self._objects.put(key, transition.model_dump_json().encode(), if_none_match=True)

    def missed(self, request_id: str | None = None, *, limit: int = 200) -> Iterator[Missed]:
        """What is pending (of one request, or all), oldest first per request."""
        prefix = f"{PREFIX}{request_id}/" if request_id else PREFIX
        for n, key in enumerate(self._objects.list_keys(prefix)):
            if n >= limit:
                return
            stored = self._objects.get(key)
            if stored is None:
                continue
            try:
                transition = Transition.model_validate_json(stored.body)
            except ValidationError:
                log.warning("unreadable render backlog entry %s: dropped", key)
                self._objects.delete(key)
                continue
            yield Missed(key=key, request_id=key[len(PREFIX) :].split("/", 1)[0], transition=transition)

    def done(self, missed: Missed) -> None:
        self._objects.delete(missed.key)
