"""``RecentKeys``: a small bounded LRU of the dedupe keys this process has already seen.

Slack redelivers a click or an event (a retry, a double delivery) usually to the same replica
within seconds. Remembering the last few thousand keys in memory rejects such a duplicate
before any S3 call; the create-if-absent markers (``core.services.once.Once``) still decide
across processes and replicas, so a key forgotten here (evicted, another process) is only a
slower path, never a second dispatch.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

DEFAULT_SIZE = 4096


class RecentKeys:
    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        if size < 1:
            raise ValueError("RecentKeys needs room for at least one key")
        self._size = size
        self._keys: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def first(self, key: str) -> bool:
        """True the first time ``key`` is seen while remembered; False for a repeat."""
        with self._lock:
            if key in self._keys:
                self._keys.move_to_end(key)
                return False
            self._keys[key] = None
            if len(self._keys) > self._size:
                self._keys.popitem(last=False)
            return True

    def forget(self, key: str) -> None:
        with self._lock:
            self._keys.pop(key, None)

    def __len__(self) -> int:
        return len(self._keys)
