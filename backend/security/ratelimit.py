"""Fixed-window request counters shared across gunicorn workers.

With REDIS_URL the counters live in Redis (SET NX EX + INCR: every worker and host sees the same
count); without it (embedded `make run`: one process) in memory. A Redis failure lets the
request through and is logged: a rate limit must never take sign-in down with it.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass

log = logging.getLogger("backend.security")


@dataclass(frozen=True)
class Limit:
    count: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> Limit | None:
        """'10/60' = 10 requests per 60 seconds; '' or '0' = no limit."""
        text = (text or "").strip()
        if not text or text == "0":
            return None
        count, _, seconds = text.partition("/")
        return cls(int(count), int(seconds or 60))


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int  # seconds until the window ends (only meaningful when refused)
    first_refusal: bool = False  # the window's first refused request (audited once, not per hit)


class MemoryCounters:
    def __init__(self):
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[int, float]] = {}  # key -> (count, window end)

    def hit(self, key: str, limit: Limit, now: float) -> Verdict:
        with self._lock:
            count, ends = self._counts.get(key, (0, 0.0))
            if now >= ends:
                count, ends = 0, now + limit.seconds
            count += 1
            self._counts[key] = (count, ends)
            if len(self._counts) > 50_000:  # forget finished windows now and then
                self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
        return Verdict(count <= limit.count, max(1, math.ceil(ends - now)), count == limit.count + 1)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


class RedisCounters:
    def __init__(self, url: str):
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)

    def hit(self, key: str, limit: Limit, now: float) -> Verdict:
        # The window starts at the first hit (as in memory), not at a clock boundary: a burst
        # that straddles a minute mark must not get a fresh allowance halfway through.
        name = f"bpm:ratelimit:{key}:{limit.seconds}"
        try:
            pipe = self._redis.pipeline()  # MULTI/EXEC: the three run as one
            pipe.set(name, 0, ex=limit.seconds, nx=True)
            pipe.incr(name)
            pipe.pttl(name)
            _, count, left_ms = pipe.execute()
        except Exception as exc:  # fail open, loudly
            log.warning("ratelimit.redis_unavailable", extra={"error": f"{type(exc).__name__}: {exc}"})
            return Verdict(True, 0)
        count = int(count)
        left = int(left_ms) / 1000 if int(left_ms) > 0 else limit.seconds
        return Verdict(count <= limit.count, max(1, math.ceil(left)), count == limit.count + 1)

    def reset(self) -> None:
        try:
            for name in self._redis.scan_iter("bpm:ratelimit:*"):
                self._redis.delete(name)
        except Exception:  # noqa: S110 - tests only
            pass


class RateLimiter:
    def __init__(self, redis_url: str = ""):
        self.counters = RedisCounters(redis_url) if redis_url else MemoryCounters()

    def hit(self, bucket: str, subject: str, limit: Limit) -> Verdict:
        return self.counters.hit(f"{bucket}:{subject}", limit, time.time())

    def reset(self) -> None:
        self.counters.reset()
