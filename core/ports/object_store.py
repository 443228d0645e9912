"""``ObjectStore``: keys to bytes with compare-and-swap, the one storage primitive.

S3 (``S3ObjectStore``) and local disk (``LocalObjectStore``) implement it with the same
semantics: ``put(if_none_match=True)`` creates only when absent, ``put(if_match=etag)`` replaces
only the version that was read; a lost race raises ``VersionConflict``. Request documents,
the list index, conversation state, installations and linked identities are all stored
through it, each under its own key prefix.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class StoredObject:
    key: str
    body: bytes
    etag: str


class ObjectStore(Protocol):
    def get(self, key: str) -> StoredObject | None:
        """The object, or None when absent."""
        ...

    def get_if_changed(self, key: str, etag: str | None) -> StoredObject | None:
        """The object when its etag differs from ``etag`` (None when unchanged or absent).

        Costs no transfer when unchanged (S3: a conditional GET answered 304)."""
        ...

    def put(
        self,
        key: str,
        body: bytes,
        *,
        if_match: str | None = None,
        if_none_match: bool = False,
        content_type: str = "application/json",
    ) -> str:
        """Write and return the new etag; raise ``VersionConflict`` when the condition fails."""
        ...

    def delete(self, key: str) -> None:
        """Remove the key; absent keys are not an error."""
        ...

    def delete_many(self, keys: Sequence[str]) -> None:
        """Remove the keys, in order, in as few calls as the store allows (S3: DeleteObjects,
        1,000 a call); absent keys are not an error, a key that could not be deleted is."""
        ...

    def list_keys(self, prefix: str, *, start_after: str | None = None, limit: int | None = None) -> Iterator[str]:
        """Keys under ``prefix`` after ``start_after`` in lexicographic (byte) order, at most
        ``limit`` of them (all when None), paged underneath (S3: ListObjectsV2, 1,000 a page;
        ``limit`` <= 1,000 costs one call)."""
        ...
