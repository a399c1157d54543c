"""An in-process TTL cache of rendered public pages.

The key holds the project's publication version (read from the database on every hit), so a
change of the switch, the photos or the approved comments shows at once in every worker; the
rest (progress, milestones) may be up to the TTL old. Bounded: the oldest entries go first.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

MAX_ENTRIES = 2000


class PageCache:
    def __init__(self):
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple, tuple[float, str]] = OrderedDict()

    def get(self, key: tuple, *, now: float | None = None) -> str | None:
        now = time.monotonic() if now is None else now
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires, body = entry
            if now >= expires:
                del self._entries[key]
                return None
            return body

    def put(self, key: tuple, body: str, *, ttl: float, now: float | None = None) -> None:
        if ttl <= 0:
            return
        now = time.monotonic() if now is None else now
        with self._lock:
            self._entries[key] = (now + ttl, body)
            self._entries.move_to_end(key)
            while len(self._entries) > MAX_ENTRIES:
                self._entries.popitem(last=False)

    def invalidate(self, code: str) -> None:
        """Forget every entry of one project (this worker; the version key covers the others)."""
        with self._lock:
            for key in [k for k in self._entries if k[0] == code]:
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


pages = PageCache()
