"""GitHub Actions artifacts: picking one by name from a run's listing, a bounded per-run cache of
listings (the plan and the cost artifact of one run are served from one listing call), reading
one JSON file out of an artifact zip, in memory and size-bounded (an artifact is untrusted
input: a zip bomb or a huge member must fail cleanly, not exhaust memory), and reading the
run reports the scaffolded workflows upload (``outputs.json``, ``diagnostics.json``, written by
``tfpilot_ci.py``) into the ``RunReport`` the local runner produces."""

from __future__ import annotations

import io
import json
import threading
import zipfile
from collections import OrderedDict
from typing import Any

from core.domain.run_report import Diagnostic, RunReport, bounded
from core.ports.code_host import CodeHostError

READ_CHUNK = 1 << 16
# Artifact names (``<prefix>-<request id>``) of the scaffolded workflows' run reports.
OUTPUTS_ARTIFACT = "tfoutputs"
DIAGNOSTICS_ARTIFACT = "tfdiag"
REPORT_FORMAT = 1


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


def outputs_report(doc: dict[str, Any], request_id: str) -> RunReport:
    """The outputs of ``outputs.json`` (``{"format": 1, "request_id", "outputs": {name: value}}``)."""
    where = f"outputs.json in {OUTPUTS_ARTIFACT}-{request_id}"
    _check_report(doc, request_id, where)
    outputs = doc.get("outputs")
    if not isinstance(outputs, dict):
        raise CodeHostError(f"{where} has no outputs object")
    return bounded([], {str(name): value for name, value in outputs.items()})


def diagnostics_report(doc: dict[str, Any], request_id: str) -> RunReport:
    """The diagnostics of ``diagnostics.json`` (``{"format": 1, "request_id", "diagnostics": [...]}``)."""
    where = f"diagnostics.json in {DIAGNOSTICS_ARTIFACT}-{request_id}"
    _check_report(doc, request_id, where)
    raw = doc.get("diagnostics")
    if not isinstance(raw, list):
        raise CodeHostError(f"{where} has no diagnostics list")
    found: list[Diagnostic] = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("summary"), str) or not item["summary"].strip():
            raise CodeHostError(f"{where} holds a diagnostic without a summary")
        address = item.get("address")
        found.append(
            Diagnostic(
                severity="error" if item.get("severity", "error") == "error" else "warning",
                summary=item["summary"].strip(),
                detail=str(item.get("detail") or "").strip(),
                address=address if isinstance(address, str) and address else None,
            )
        )
    return bounded(found)


def _check_report(doc: dict[str, Any], request_id: str, where: str) -> None:
    if doc.get("format") != REPORT_FORMAT:
        raise CodeHostError(f"{where} has format {str(doc.get('format'))[:20]!r}, not {REPORT_FORMAT}")
    # An artifact is named per request; its content must say the same request.
    if doc.get("request_id") not in (request_id, "", None):
        raise CodeHostError(f"{where} is about {str(doc.get('request_id'))[:40]!r}, not {request_id}")
