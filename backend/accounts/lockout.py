"""Lockout after repeated sign-in failures, per account and per source address.

Counted from `login_attempt` rows (not process memory), so every gunicorn worker agrees.
LOGIN_MAX_FAILURES failures within LOGIN_FAILURE_WINDOW_MINUTES lock for LOGIN_LOCK_MINUTES
from the last of them. An account's count starts again after a successful sign-in or an admin
unlock; an address's count only ages out (a success from the address must not let someone
spraying passwords from it start over). The name is counted whether or not such an account
exists, so a lockout never tells who has an account.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from backend.accounts.models import LoginAttempt
from backend.db import utcnow


@dataclass(frozen=True)
class Lock:
    scope: str  # "account" | "address"
    until: datetime

    def minutes_left(self, now: datetime | None = None) -> int:
        seconds = (self.until - (now or utcnow())).total_seconds()
        return max(1, int(-(-seconds // 60)))


def _config(name: str) -> int:
    return int(current_app.config[name])


def _name(username: str) -> str:
    return (username or "").strip()[:60]


def record_attempt(*, session, username: str, address: str | None, kind: str, success: bool) -> None:
    session.add(
        LoginAttempt(
            username=_name(username), address=(address or "")[:64] or None, kind=kind, success=success
        )
    )
    session.flush()


def unlock(*, session, username: str) -> None:
    """The system admin's unlock: the account's failures before now no longer count."""
    record_attempt(session=session, username=username, address=None, kind="unlock", success=True)


def _lock_from(session, where, *, since: datetime, now: datetime) -> datetime | None:
    limit = _config("LOGIN_MAX_FAILURES")
    times = session.scalars(
        sa.select(LoginAttempt.at)
        .where(where, LoginAttempt.success.is_(False), LoginAttempt.at > since)
        .order_by(LoginAttempt.at.desc())
        .limit(limit)
    ).all()
    if len(times) < limit:
        return None
    until = times[0] + timedelta(minutes=_config("LOGIN_LOCK_MINUTES"))
    return until if until > now else None


def current_lock(*, session, username: str, address: str | None, now: datetime | None = None) -> Lock | None:
    """The lock that refuses this sign-in now (the address's first), or None."""
    now = now or utcnow()
    window_start = now - timedelta(minutes=_config("LOGIN_FAILURE_WINDOW_MINUTES"))
    if address:
        until = _lock_from(session, LoginAttempt.address == address[:64], since=window_start, now=now)
        if until is not None:
            return Lock("address", until)
    name = _name(username)
    if name:
        last_success = session.scalar(
            sa.select(sa.func.max(LoginAttempt.at)).where(
                LoginAttempt.username == name, LoginAttempt.success.is_(True)
            )
        )
        since = max(window_start, last_success) if last_success is not None else window_start
        until = _lock_from(session, LoginAttempt.username == name, since=since, now=now)
        if until is not None:
            return Lock("account", until)
    return None


def account_locked(*, session, username: str, now: datetime | None = None) -> bool:
    """For the admin list: is the account locked now (address locks aside)?"""
    lock = current_lock(session=session, username=username, address=None, now=now)
    return lock is not None


def purge_old(*, session, now: datetime | None = None) -> None:
    """Rows older than the window no longer count (the audit log keeps the history): called at
    each successful sign-in so the table stays small without a scheduled job."""
    keep_from = (now or utcnow()) - timedelta(minutes=_config("LOGIN_FAILURE_WINDOW_MINUTES"), days=1)
    session.execute(sa.delete(LoginAttempt).where(LoginAttempt.at < keep_from))
