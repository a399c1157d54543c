"""Session lifetime: idle timeout, absolute lifetime, and ending every session of a person.

The signed session cookie carries the person's `session_version` at sign-in and two times
(sign-in, last request). The user loader (backend/accounts/__init__.py) refuses a session whose
version is behind the person's (password changed, signed out elsewhere, disabled, reset by the
admin), that has been idle longer than SESSION_IDLE_MINUTES, or that is older than
SESSION_MAX_HOURS. Pages and the API's session-authenticated calls share that loader.
"""

import time

from flask import current_app, g, session

VERSION = "_sv"
SIGNED_IN_AT = "_auth_at"
SEEN_AT = "_seen_at"
PENDING = "_2fa"  # password accepted, second factor not yet: {"uid", "at", "next"}
PENDING_SECONDS = 300


def start(user) -> None:
    now = time.time()
    session[VERSION] = user.session_version or 0
    session[SIGNED_IN_AT] = now
    session[SEEN_AT] = now


def problem(user, now: float | None = None) -> str | None:
    """Why this request's session no longer holds (version | idle | absolute), or None."""
    now = time.time() if now is None else now
    if session.get(VERSION) != (user.session_version or 0):
        return "version"
    signed_in_at = session.get(SIGNED_IN_AT)
    seen_at = session.get(SEEN_AT)
    if not isinstance(signed_in_at, int | float) or not isinstance(seen_at, int | float):
        return "version"  # a session from before these controls
    if now - seen_at > current_app.config["SESSION_IDLE_MINUTES"] * 60:
        return "idle"
    if now - signed_in_at > current_app.config["SESSION_MAX_HOURS"] * 3600:
        return "absolute"
    return None


def touch(now: float | None = None) -> None:
    session[SEEN_AT] = time.time() if now is None else now


def clear_keeping_language() -> None:
    """Nothing from before carries over (session fixation), but the language chosen."""
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language


def end(reason: str) -> None:
    """Sign this browser out; the next page tells why (`ended_reason`)."""
    clear_keeping_language()
    g.session_ended = reason
    session["_ended"] = reason


def take_ended_reason() -> str | None:
    return session.pop("_ended", None)
