"""The named background jobs of every domain and their failure policies."""

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


class Retry(Exception):
    """Raised by a job to be run again later. Its work so far is rolled back; it does
    not count as a failure, so jobs with their own retry policy (max_retries=0) use it."""

    def __init__(self, delay_seconds: float = 0, reason: str = ""):
        if delay_seconds < 0:
            raise ValueError("delay_seconds must not be negative")
        super().__init__(reason or f"retry in {delay_seconds:g}s")
        self.delay_seconds = float(delay_seconds)
        self.reason = reason


class UnknownJob(ValueError):
    """No job is registered under this name."""

    def __init__(self, name: str):
        super().__init__(f"unknown job {name!r}: register it with @jobs.job({name!r})")
        self.name = name


@dataclass(frozen=True)
class JobSpec:
    name: str
    fn: Callable[[dict], None]
    max_retries: int
    min_backoff_seconds: float
    max_backoff_seconds: float
    # A job that calls out (HTTP, SMTP) runs in phases, see backend.jobs.runner: `fn` prepares
    # (row locked), `call_out(plan)` runs with no transaction open, `record(payload, plan,
    # result)` saves the outcome with the row locked again.
    call_out: Callable[[Any], Any] | None = None
    record: Callable[[dict, Any, Any], None] | None = None

    @property
    def phased(self) -> bool:
        return self.call_out is not None

    def backoff_seconds(self, failures: int) -> float:
        """Exponential: min_backoff, 2x, 4x, ... capped at max_backoff."""
        return min(self.max_backoff_seconds, self.min_backoff_seconds * 2 ** max(failures - 1, 0))


_JOBS: dict[str, JobSpec] = {}


def job(
    name: str,
    *,
    max_retries: int = 3,
    min_backoff_seconds: float = 10.0,
    max_backoff_seconds: float = 3600.0,
    call_out: Callable[[Any], Any] | None = None,
    record: Callable[[dict, Any, Any], None] | None = None,
) -> Callable[[Callable[[dict], Any]], Callable[[dict], Any]]:
    """Register `fn(payload: dict) -> None` as the background job `name`.

    A failure rolls the job's work back and runs it again after an exponential backoff,
    up to `max_retries` times, then the row is 'dead'. With `max_retries=0` a failure
    makes the row 'failed' at once: the job owns its failure policy (raise `Retry`).
    The function is returned unchanged, so it stays callable directly.

    With `call_out`, the job talks to the outside world without holding the database:
    `fn(payload)` returns a plan (None: nothing to send, the row is done), it commits with
    the row still ours; `call_out(plan)` runs with no transaction open and returns a result
    (raising counts as a failure of this try); then `record(payload, plan, result)` runs in
    a second transaction, only if no duplicate took the row over meanwhile. The call is
    at-least-once (a crash before the record means a retry), the record exactly once.
    """
    if not _NAME.fullmatch(name):
        raise ValueError(f"job name {name!r} must be dotted identifiers, e.g. 'workflow.fire_timers'")
    if record is not None and call_out is None:
        raise ValueError("record needs call_out: only a job that calls out runs in phases")
    if max_retries < 0 or min_backoff_seconds < 0 or max_backoff_seconds < min_backoff_seconds:
        raise ValueError("max_retries and backoffs must be non-negative, max_backoff >= min_backoff")

    def register(fn: Callable[[dict], Any]) -> Callable[[dict], Any]:
        existing = _JOBS.get(name)
        if existing and _origin(existing.fn) != _origin(fn):
            raise ValueError(f"job {name!r} is already registered by {'.'.join(_origin(existing.fn))}")
        spec = JobSpec(
            name, fn, max_retries, float(min_backoff_seconds), float(max_backoff_seconds), call_out, record
        )
        _JOBS[name] = spec
        from backend.jobs import broker  # the broker may already exist: declare the actor there too

        broker.declare(spec)
        return fn

    return register


def get(name: str) -> JobSpec | None:
    return _JOBS.get(name)


def require(name: str) -> JobSpec:
    spec = _JOBS.get(name)
    if spec is None:
        raise UnknownJob(name)
    return spec


def all_jobs() -> list[JobSpec]:
    return list(_JOBS.values())


def _origin(fn) -> tuple[str, str]:
    return (getattr(fn, "__module__", "?"), getattr(fn, "__qualname__", repr(fn)))
