"""Pure helpers for GitHub's repository contents API (``repos/create-or-update-file-contents``,
``repos/get-content``): the git blob sha of a text, the base64 body GitHub expects, and reading
the blob sha of a file out of a ``content-file`` document. The blob sha is how a single-file
commit recognises its own content without downloading it (GitHub reports the same sha). No I/O.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections import OrderedDict
from typing import Any

from core.ports.code_host import CodeHostError


def git_blob_sha(content: str) -> str:
    """The sha git (and GitHub) gives a blob holding ``content`` encoded as UTF-8."""
    data = content.encode()
    return hashlib.sha1(b"blob %d\x00" % len(data) + data, usedforsecurity=False).hexdigest()


def encode(content: str) -> str:
    return base64.b64encode(content.encode()).decode("ascii")


def file_blob(data: Any, path: str) -> str:
    """The blob sha in a ``repos/get-content`` answer for ``path``; a directory, symlink or
    submodule at that path is an error (we only ever write regular files there)."""
    if isinstance(data, list) or not isinstance(data, dict):
        raise CodeHostError(f"{path} is a directory on GitHub, not a file", status=422)
    if data.get("type") != "file":
        raise CodeHostError(f"{path} is a {data.get('type') or 'non-file'} on GitHub, not a file", status=422)
    sha = data.get("sha")
    if not isinstance(sha, str) or not sha:
        raise CodeHostError(f"GitHub returned no blob sha for {path}")
    return sha


class BlobMemo:
    """Bounded memory of ``(repo, commit, path) -> blob sha`` for commits this host wrote.
    Commits are immutable, so an entry never goes stale; it saves reading a file's blob sha
    before replacing it on top of our own previous commit."""

    def __init__(self, max_entries: int) -> None:
        self._max = max_entries
        self._lock = threading.Lock()  # the host serves webhook workers concurrently
        self._items: OrderedDict[tuple[str, str, str], str] = OrderedDict()

    def get(self, repo: str, commit: str, path: str) -> str | None:
        with self._lock:
            return self._items.get((repo, commit, path))

    def put(self, repo: str, commit: str, path: str, blob: str) -> None:
        with self._lock:
            self._items[(repo, commit, path)] = blob
            self._items.move_to_end((repo, commit, path))
            while len(self._items) > self._max:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)
