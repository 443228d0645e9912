"""Reading one JSON file out of a GitHub Actions artifact zip, in memory and size-bounded (an
artifact is untrusted input: a zip bomb or a huge member must fail cleanly, not exhaust memory)."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from core.ports.code_host import CodeHostError

READ_CHUNK = 1 << 16


def pick_artifact(listing: Any, name: str) -> dict[str, Any] | None:
    """The newest unexpired artifact called ``name`` in a ``list-workflow-run-artifacts`` body."""
    artifacts = listing.get("artifacts") if isinstance(listing, dict) else None
    candidates = [
        a
        for a in (artifacts if isinstance(artifacts, list) else [])
        if isinstance(a, dict) and a.get("name") == name and not a.get("expired") and isinstance(a.get("id"), int)
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda a: (str(a.get("created_at") or ""), a["id"]))


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
