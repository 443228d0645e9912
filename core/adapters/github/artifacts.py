"""GitHub Actions artifacts: picking one by name from a run's listing, a bounded per-run cache of
listings (the plan and the cost artifact of one run are served from one listing call), and
reading one JSON file out of an artifact zip, in memory and size-bounded (an artifact is
untrusted input: a zip bomb or a huge member must fail cleanly, not exhaust memory)."""

from __future__ import annotations

import io
import json
import threading
import zipfile
from collections import OrderedDict
from typing import Any

from core.ports.code_host import CodeHostError

READ_CHUNK = 1 << 16


def pick_artifact(listing: Any, name: str) -> dict[str, Any] | None:
    """The newest unexpired artifact called ``name`` in a ``list-workflow-run-artifacts`` body
    (or in the list of its artifacts)."""
    artifacts = listing if isinstance(listing, list) else artifacts_of(listing)
    candidates = [
        a
        for a in artifacts
        if isinstance(a, dict) and a.get("name") == name and not a.get("expired") and isinstance(a.get("id"), int)
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda a: (str(a.get("created_at") or ""), a["id"]))


def artifacts_of(listing: Any) -> list[dict[str, Any]]:
    """The artifact objects of one ``list-workflow-run-artifacts`` page."""
    artifacts = listing.get("artifacts") if isinstance(listing, dict) else None
    return [a for a in (artifacts if isinstance(artifacts, list) else []) if isinstance(a, dict)]


class ListingCache:
    """The artifacts of recent runs, keyed by ``(repo, run_id)``: at most ``max_entries`` runs,
    each kept ``ttl`` seconds. A listing is only asked for once the run succeeded, when every
    artifact is uploaded; the time limit still lets a listing taken too early be read again."""

    def __init__(self, max_entries: int, ttl: float) -> None:
        self._max = max_entries
        self._ttl = ttl
        self._lock = threading.Lock()  # the host serves webhook workers concurrently
        self._items: OrderedDict[tuple[str, int], tuple[float, list[dict[str, Any]]]] = OrderedDict()

    def get(self, repo: str, run_id: int, now: float) -> list[dict[str, Any]] | None:
        with self._lock:
            item = self._items.get((repo, run_id))
            if item is None:
                return None
            if now - item[0] > self._ttl:
                del self._items[(repo, run_id)]
                return None
            return item[1]

    def put(self, repo: str, run_id: int, now: float, artifacts: list[dict[str, Any]]) -> None:
        if self._max <= 0:
            return
        with self._lock:
            self._items[(repo, run_id)] = (now, artifacts)
            self._items.move_to_end((repo, run_id))
            while len(self._items) > self._max:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


def json_member(archive: bytes, member: str, *, max_bytes: int, artifact: str) -> dict[str, Any]:
    """Parse ``member`` (at the zip's root or in any folder) as a JSON object."""
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir() and i.filename.rsplit("/", 1)[-1] == member]
            if not infos:
                raise CodeHostError(f"artifact {artifact} has no {member}")
            info = min(infos, key=lambda i: i.filename.count("/"))
            if info.file_size > max_bytes:
                raise CodeHostError(
                    f"{member} in {artifact} is {info.file_size} bytes, over the {max_bytes}-byte limit"
                )
            raw = _bounded_read(zf, info, max_bytes, member, artifact)
    except zipfile.BadZipFile as exc:
        raise CodeHostError(f"artifact {artifact} is not a valid zip archive") from exc
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise CodeHostError(f"{member} in {artifact} is not valid JSON") from exc
    if not isinstance(data, dict):
        raise CodeHostError(f"{member} in {artifact} is not a JSON object")
    return data


def _bounded_read(zf: zipfile.ZipFile, info: zipfile.ZipInfo, max_bytes: int, member: str, artifact: str) -> bytes:
    # The declared size can lie: count what actually decompresses.
    out = bytearray()
    with zf.open(info) as handle:
        while chunk := handle.read(READ_CHUNK):
            out.extend(chunk)
            if len(out) > max_bytes:
                raise CodeHostError(f"{member} in {artifact} is over the {max_bytes}-byte limit")
    return bytes(out)
