"""``LocalObjectStore``: the ``ObjectStore`` port on a directory, safe across processes.

A key is a relative path under ``root`` (the same layout as the S3 bucket). Reads are lock-free:
every write goes to a temporary file that is fsynced and then ``os.replace``d over the target,
so a reader sees the old or the new bytes, never a torn file. Compare-and-swap holds an
exclusive ``fcntl`` lock (one of a fixed set of lock files chosen by the key's hash) around
read-compare-write, so two processes cannot both win. The etag is a hash of the content, as
S3's is for single-part objects. Files are created owner-only (0600). Keys are validated: no
absolute paths, no ``.``/``..`` or empty segments, no NUL or backslash, and no first segment
starting with ``.`` (the store's own ``.locks``/``.tmp`` live there and are never listed).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import secrets
from collections.abc import Iterator, Sequence
from pathlib import Path

from core.domain.errors import VersionConflict
from core.ports.object_store import StoredObject

_LOCK_STRIPES = 64
_MAX_KEY_BYTES = 1024


class InvalidKey(ValueError):
    """A key that could escape the store's root or collide with its own files."""


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def validate_key(key: str) -> str:
    if not key or len(key.encode()) > _MAX_KEY_BYTES:
        raise InvalidKey(f"invalid object key {key!r}: empty or too long")
    if "\x00" in key or "\\" in key:
        raise InvalidKey(f"invalid object key {key!r}: NUL or backslash")
    if key.startswith("/"):
        raise InvalidKey(f"invalid object key {key!r}: absolute path")
    parts = key.split("/")
    if any(part in {"", ".", ".."} for part in parts):
        raise InvalidKey(f"invalid object key {key!r}: empty, '.' or '..' segment")
    if parts[0].startswith("."):
        raise InvalidKey(f"invalid object key {key!r}: first segment may not start with '.'")
    return key


class LocalObjectStore:
    def __init__(self, root: Path) -> None:
        self._root = Path(root)
        self._locks = self._root / ".locks"
        self._tmp = self._root / ".tmp"

    @property
    def root(self) -> Path:
        return self._root

    def _path(self, key: str) -> Path:
        return self._root / validate_key(key)

    @contextlib.contextmanager
    def _locked(self, key: str) -> Iterator[None]:
        stripe = int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") % _LOCK_STRIPES
        self._locks.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._locks / f"{stripe:02d}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    def _read(self, path: Path) -> bytes | None:
        try:
            return path.read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None

    def get(self, key: str) -> StoredObject | None:
        body = self._read(self._path(key))
        return None if body is None else StoredObject(key, body, etag_of(body))

    def get_if_changed(self, key: str, etag: str | None) -> StoredObject | None:
        found = self.get(key)
        return None if found is None or found.etag == etag else found

    def put(
        self,
        key: str,
        body: bytes,
        *,
        if_match: str | None = None,
        if_none_match: bool = False,
        content_type: str = "application/json",
    ) -> str:
        path = self._path(key)
        with self._locked(key):
            if if_match is not None or if_none_match:
                current = self._read(path)
                if if_none_match and current is not None:
                    raise VersionConflict(key)
                if if_match is not None and (current is None or etag_of(current) != if_match):
                    raise VersionConflict(key)
            self._write_atomic(path, body)
        return etag_of(body)

    def _write_atomic(self, path: Path, body: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp.mkdir(parents=True, exist_ok=True)
        tmp = self._tmp / f"{path.name}.{os.getpid()}.{secrets.token_hex(6)}"
        try:
            # Owner-only, as S3 objects are private: documents, conversations and encrypted
            # identities must not be readable by other users of a shared host.
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(body)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    def delete(self, key: str) -> None:
        path = self._path(key)
        with self._locked(key), contextlib.suppress(FileNotFoundError, IsADirectoryError, NotADirectoryError):
            path.unlink()

    def delete_many(self, keys: Sequence[str]) -> None:
        for key in keys:
            self.delete(key)

    def list_keys(self, prefix: str, *, start_after: str | None = None, limit: int | None = None) -> Iterator[str]:
        # Walk only the deepest directory the prefix names, then filter by the full prefix.
        directory = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        base = self._root / directory if directory else self._root
        if directory:
            try:
                validate_key(directory)
            except InvalidKey:
                return
        if not base.is_dir():
            return
        keys: list[str] = []
        for dirpath, dirnames, filenames in os.walk(base):
            rel_dir = os.path.relpath(dirpath, self._root)
            if rel_dir == ".":
                dirnames[:] = [d for d in dirnames if not d.startswith(".")]
                rel_dir = ""
            for name in filenames:
                if not rel_dir and name.startswith("."):
                    continue
                key = f"{rel_dir}/{name}" if rel_dir else name
                if key.startswith(prefix) and (start_after is None or key > start_after):
                    keys.append(key)
        yield from sorted(keys)[:limit]
