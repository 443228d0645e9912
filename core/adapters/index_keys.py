"""The list index's key layout: how a request's row (``IndexRow``) is written into sorted object
keys, and read back from them, so that listing never reads documents.

Each row is written as a few small entries whose KEY carries the row, one per *stream* (a key
prefix the listing reads with ``list_keys``, sorted newest first)::

    index/v2/active/<entry>              requests not archived (the default listing)
    index/v2/all/<entry>                 archived requests (``include_archived`` and metrics
                                         read it with ``active``; the previous layout kept
                                         every request here)
    index/v2/status/<status>/<entry>     by derived status (status filters, drift)
    index/v2/by/<requester>/<entry>      by requester (Slack id, else email), lower-cased

    <entry> = <T>~<I>~<V>~<payload>

``T`` is ``received_at`` inverted (16 digits: newest first), ``I`` the request id with every
character inverted (ties newest-id first; the inversion is its own inverse), ``V`` the row's
``version`` inverted (12 digits: within one request the newest version comes first) and
``payload`` the rest of the row as compact base64url JSON. When the key would exceed the
index's inline limit (S3 allows 1,024 bytes) the payload is empty and the entry's body holds
the row instead. The listing's cursors are encoded here too.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from core.domain.index import IndexRow

INDEX_PREFIX = "index/"
ROOT = "index/v2/"
ALL = f"{ROOT}all/"
ACTIVE = f"{ROOT}active/"
S3_KEY_LIMIT = 1024
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_T_MAX = 10**16 - 1
V_MAX = 10**12 - 1
# The request-id charset (see request_store._SAFE_ID) in ascending byte order: mapping it onto
# itself reversed inverts the sort order of ids (shorter-prefix ids sort after longer ones
# because the '~' separator is above every character of the alphabet).
_ALPHABET = "-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
_INVERT = str.maketrans(_ALPHABET, _ALPHABET[::-1])
_SHORT = {
    "project": "p",
    "environment": "e",
    "module": "m",
    "status": "s",
    "requester": "r",
    "requester_email": "re",
    "updated_at": "u",
    "archived": "a",
    "pr_number": "pr",
    "plan_conclusion": "pc",
    "plan_completed_at": "pt",
    "apply_conclusion": "ac",
    "apply_triggered_at": "at",
    "applied_at": "ad",
    "apply_completed_at": "ct",
    "destroy_conclusion": "dc",
    "destroyed_at": "dt",
    "drift_detected": "dr",
    "last_synced_at": "ls",
    "slack_team": "st",
}
_LONG = {short: name for name, short in _SHORT.items()}
_DATETIME_FIELDS = frozenset(name for name, info in IndexRow.model_fields.items() if "datetime" in str(info.annotation))


@dataclass(frozen=True)
class EntryHead:
    """What a key says without decoding its payload: enough to sort, group and dedupe."""

    key: str
    stream: str
    t: str
    inv_id: str
    version: int

    @property
    def group(self) -> tuple[str, str]:
        return (self.t, self.inv_id)

    @property
    def request_id(self) -> str:
        return self.inv_id.translate(_INVERT)


# -- entries ------------------------------------------------------------------------------


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _micros(value: datetime) -> int:
    return (_utc(value) - _EPOCH) // timedelta(microseconds=1)


def _from_micros(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def time_field(received_at: datetime) -> str:
    """An entry's ``T`` field: ``received_at`` inverted, so newer sorts first."""
    return f"{_T_MAX - min(max(_micros(received_at), 0), _T_MAX):016d}"


def invert_id(request_id: str) -> str:
    return request_id.translate(_INVERT)


def key_segment(value: str) -> str:
    # Status and requester become one key segment: no '/', and never '.' or '..'.
    return quote(value, safe="@").replace(".", "%2E")


def streams_of(row: IndexRow, *, legacy: bool = False) -> list[str]:
    """The streams a row is listed in: its status, its requester, and ``active`` or (archived)
    ``all``. ``all`` held every request before (the settle's ledger): with ``legacy`` the
    streams of that layout, to delete a row written by it. ``all`` and ``active`` come last, so
    a crash half-way through deleting an old version leaves it findable by a settle."""
    streams = [f"{ROOT}status/{key_segment(row.status)}/"]
    who = (row.requester or row.requester_email or "").lower()
    if who:
        streams.append(f"{ROOT}by/{key_segment(who)}/")
    if not row.archived:
        streams.append(ACTIVE)
    if row.archived or legacy:
        streams.append(ALL)
    return streams


def requester_stream(who: str) -> str:
    return f"{ROOT}by/{key_segment(who.lower())}/"


def payload_doc(row: IndexRow) -> dict[str, Any]:
    """The row's listed fields under their short names (datetimes as microseconds)."""
    doc: dict[str, Any] = {}
    for name, short in _SHORT.items():
        value = getattr(row, name)
        if value is None or value is False:
            continue
        doc[short] = _micros(value) if name in _DATETIME_FIELDS else value
    return doc


def encode_payload(row: IndexRow) -> str:
    raw = json.dumps(payload_doc(row), separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def row_from(head: EntryHead, doc: dict[str, Any]) -> IndexRow:
    """The row an entry holds: its head's fields plus the decoded payload ``doc``."""
    fields: dict[str, Any] = {"id": head.request_id, "version": head.version}
    fields["received_at"] = _from_micros(_T_MAX - int(head.t))
    for short, value in doc.items():
        name = _LONG.get(short)
        if name is None:
            continue  # a field a newer writer added: ignored, as IndexRow ignores extras
        fields[name] = _from_micros(int(value)) if name in _DATETIME_FIELDS and value is not None else value
    return IndexRow.model_validate(fields)


def parse_head(key: str, stream: str) -> EntryHead:
    """The sortable head of an entry key; ``ValueError`` when the key is not an entry."""
    parts = key[len(stream) :].split("~")
    if len(parts) != 4:
        raise ValueError("not an index entry (expected <T>~<I>~<V>~<payload>)")
    t, inv_id, v, _ = parts
    if len(t) != 16 or not t.isdigit() or len(v) != 12 or not v.isdigit():
        raise ValueError("not an index entry (bad time or version field)")
    if not inv_id or any(ch not in _ALPHABET for ch in inv_id):
        raise ValueError("not an index entry (bad id field)")
    return EntryHead(key, stream, t, inv_id, V_MAX - int(v))


def normalised(row: IndexRow) -> IndexRow:
    # Legacy documents may hold naive timestamps: read them as UTC so rows always compare.
    naive = {
        name: _utc(value)
        for name in _DATETIME_FIELDS
        if isinstance(value := getattr(row, name), datetime) and value.tzinfo is None
    }
    return row.model_copy(update=naive) if naive else row


# -- cursors -----------------------------------------------------------------------------------


def encode_cursor(row: IndexRow) -> str:
    payload = json.dumps({"t": _utc(row.received_at).isoformat(), "id": row.id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return _utc(datetime.fromisoformat(payload["t"])), str(payload["id"])
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise ValueError("invalid list cursor: start the listing again without one") from exc


def stream_of_key(key: str) -> str | None:
    """The stream prefix of an entry key (None when the key is in no stream)."""
    if key.startswith((ALL, ACTIVE)):
        return ALL if key.startswith(ALL) else ACTIVE
    for kind in ("status", "by"):
        prefix = f"{ROOT}{kind}/"
        if key.startswith(prefix):
            rest = key[len(prefix) :]
            if "/" in rest:
                return prefix + rest.split("/", 1)[0] + "/"
    return None
