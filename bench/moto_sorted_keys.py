"""An opt-in patch of moto's S3 ListObjectsV2 that answers from a sorted key index, as S3 does.

**This makes moto faster than it ships, so the bench says so wherever it uses it, and prints
the unpatched numbers beside it.** moto (5.x) answers every ListObjectsV2 by walking every key
of the bucket (``bucket.keys.items()``, two Python calls a key), keeping the prefix's keys,
sorting them twice and only then applying ``StartAfter``/``ContinuationToken`` and ``MaxKeys``:
about 0.6 s for a 250 k-key bucket here whatever the prefix, plus the sorts of the prefix's keys.
S3 keeps keys in a sorted index and serves a page by seeking to the prefix (or the start key):
a page costs the same in a bucket of 1 k keys as in one of a billion.

The patch keeps, per bucket key store, a sorted list of the key names (kept up to date by
moto's own ``__setitem__``/``setlist``/``pop``, which are wrapped) and answers a listing
*without a delimiter* by bisecting to ``max(prefix, StartAfter or the continuation token's
key)`` and reading at most ``MaxKeys + 1`` names, skipping a key whose latest version is a delete
marker; the truncation and the continuation token go through moto's own ``_truncate_result``,
so the answer (keys, order, ``IsTruncated``, ``NextContinuationToken``) is the unpatched
answer. A listing with a delimiter, or of a table bucket, goes to moto unchanged.
``tests/store/test_moto_sorted_keys.py`` checks the two agree on random buckets, prefixes, start
keys, page sizes and continuation.

Used only by the benches (``bench_store``), inside ``sorted_listing()``; never by TfPilot.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_ATTR = "_tfpilot_sorted_names"
_INDEXED: list[Any] = []  # the key stores given an index, so leaving the block drops them all


def _names(store: Any) -> list[str]:
    names: list[str] | None = store.__dict__.get(_ATTR)
    if names is None:
        names = sorted(dict.keys(store))
        store.__dict__[_ATTR] = names
        _INDEXED.append(store)
    return names


def _added(store: Any, key: str) -> None:
    names = store.__dict__.get(_ATTR)
    if names is not None:
        at = bisect.bisect_left(names, key)
        if at == len(names) or names[at] != key:
            names.insert(at, key)


def _removed(store: Any, key: str) -> None:
    names = store.__dict__.get(_ATTR)
    if names is not None:
        at = bisect.bisect_left(names, key)
        if at < len(names) and names[at] == key:
            del names[at]


@contextmanager
def sorted_listing() -> Iterator[None]:
    """Within the block, moto's ListObjectsV2 (no delimiter) reads a sorted key index."""
    from moto.s3.models import FakeDeleteMarker, FakeTableStorageBucket, S3Backend
    from moto.s3.utils import _VersionedKeyStore

    original_list = S3Backend.list_objects_v2
    original_set = _VersionedKeyStore.__setitem__
    original_setlist = _VersionedKeyStore.setlist
    original_pop = _VersionedKeyStore.pop

    def setitem(self: Any, key: str, value: Any) -> Any:
        result = original_set(self, key, value)
        _added(self, key)
        return result

    def setlist(self: Any, key: Any, list_: Any) -> Any:
        result = original_setlist(self, key, list_)
        _added(self, key)
        return result

    def pop(self: Any, key: str) -> None:
        original_pop(self, key)
        _removed(self, key)

    def list_objects_v2(
        self: Any,
        bucket: Any,
        prefix: str | None,
        delimiter: str | None,
        continuation_token: str | None,
        start_after: str | None,
        max_keys: int,
    ) -> Any:
        if delimiter or isinstance(bucket, FakeTableStorageBucket):
            return original_list(self, bucket, prefix, delimiter, continuation_token, start_after, max_keys)
        store = bucket.keys
        names = _names(store)
        prefix = prefix or ""
        at = bisect.bisect_left(names, prefix)
        limit = self._pagination_tokens.get(continuation_token) if continuation_token else start_after
        if limit:
            at = max(at, bisect.bisect_right(names, limit))  # keys after the start key, as moto
        found: list[Any] = []
        while at < len(names) and len(found) <= max_keys:
            name = names[at]
            at += 1
            if not name.startswith(prefix):
                break
            versions = store.getlist(name) or []
            if versions and not isinstance(versions[-1], FakeDeleteMarker):
                found.append(versions[-1])
        return self._truncate_result(found, max_keys)

    S3Backend.list_objects_v2 = list_objects_v2  # type: ignore[method-assign]
    _VersionedKeyStore.__setitem__ = setitem  # type: ignore[method-assign]
    _VersionedKeyStore.setlist = setlist  # type: ignore[method-assign]
    _VersionedKeyStore.pop = pop  # type: ignore[method-assign]
    try:
        yield
    finally:
        for store in _INDEXED:  # unpatched moto would not keep them up to date
            store.__dict__.pop(_ATTR, None)
        _INDEXED.clear()
        S3Backend.list_objects_v2 = original_list  # type: ignore[method-assign]
        _VersionedKeyStore.__setitem__ = original_set  # type: ignore[method-assign]
        _VersionedKeyStore.setlist = original_setlist  # type: ignore[method-assign]
        _VersionedKeyStore.pop = original_pop  # type: ignore[method-assign]
