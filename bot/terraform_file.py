"""The confirm step's Terraform as one file where the conversation is, uploaded once per version.

Slack's upload is three calls (slack_sdk's ``files_upload_v2``): ``files.getUploadURLExternal``
(name and length), the bytes POSTed to the URL it returns, then ``files.completeUploadExternal``
shares the file into the channel (and thread). Slack shows a ``.tf`` file as a collapsed,
expandable snippet, so the reply only links or names it instead of quoting 3-4 k characters.

Once per version: what was uploaded is remembered in the object store under
``slack-files/terraform/<digest>.json`` (the digest covers the conversation and the content), so
the same files shown again (``show terraform`` with nothing changed, a Slack retry) are referred
to, not uploaded again. Two processes racing on the same version may both upload it; the second
record is dropped. An upload Slack refuses (``not_in_channel``, a 5xx, a network error) is no
lost message: the caller quotes the start of the files instead (``bot.views.intake``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.domain.errors import VersionConflict

if TYPE_CHECKING:
    from bot.views.ids import ThreadRef
    from core.ports.object_store import ObjectStore

log = logging.getLogger(__name__)

PREFIX = "slack-files/terraform/"


@dataclass(frozen=True)
class TerraformFile:
    """A version of the Terraform shared as a file (``error`` set: Slack refused it)."""

    filename: str
    lines: int
    file_id: str | None = None
    permalink: str | None = None
    error: str | None = None  # Slack's error code, or the failure's type
    uploaded_now: bool = False  # False: this version was already in the conversation

    @property
    def shared(self) -> bool:
        return self.error is None and self.file_id is not None


def filename_for(request_id: str | None) -> str:
    return f"tfpilot_{request_id or 'preview'}.tf"


def _record_key(thread: ThreadRef, where: str | None, content: str) -> str:
    digest = hashlib.sha256(
        json.dumps([thread.team_id, thread.channel, thread.thread_ts, where, content]).encode()
    ).hexdigest()
    return f"{PREFIX}{digest[:40]}.json"


def _error_of(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    code = response.get("error") if response is not None and hasattr(response, "get") else None
    return str(code) if code else type(exc).__name__


def share_terraform(
    client: Any,
    objects: ObjectStore,
    thread: ThreadRef,
    content: str,
    *,
    request_id: str | None,
    thread_ts: str | None,
) -> TerraformFile:
    """Share ``content`` as ``tfpilot_<request>.tf`` in ``thread``'s channel (in the thread
    ``thread_ts``, or at the top level when None), unless this version is already there."""
    filename = filename_for(request_id)
    lines = content.count("\n") + 1
    key = _record_key(thread, thread_ts, content)
    try:
        known = objects.get(key)
    except Exception:
        log.warning("reading the Terraform file record of %s failed", request_id, exc_info=True)
        known = None
    if known is not None:
        doc = json.loads(known.body)
        return TerraformFile(filename, lines, file_id=doc.get("file_id"), permalink=doc.get("permalink"))
    kwargs: dict[str, Any] = {"thread_ts": thread_ts} if thread_ts else {}
    try:
        response = client.files_upload_v2(
            channel=thread.channel,
            content=content,
            filename=filename,
            title=f"Terraform of {request_id}" if request_id else "Terraform preview",
            snippet_type="terraform",
            **kwargs,
        )
    except Exception as exc:
        error = _error_of(exc)
        log.warning("uploading the Terraform of %s into %s failed: %s", request_id, thread.channel, error)
        return TerraformFile(filename, lines, error=error)
    shared = (response.get("files") or [{}])[0] if hasattr(response, "get") else {}
    file_id = shared.get("id") if isinstance(shared, dict) else None
    permalink = shared.get("permalink") if isinstance(shared, dict) else None
    record = json.dumps({"file_id": file_id, "permalink": permalink, "filename": filename}).encode()
    try:
        objects.put(key, record, if_none_match=True)
    except VersionConflict:
        pass  # another process shared this version at the same moment
    except Exception:
        log.warning("recording the Terraform file of %s failed", request_id, exc_info=True)
    return TerraformFile(filename, lines, file_id=file_id, permalink=permalink, uploaded_now=True)
