"""Accounts: passwords of people (backend/org User) and signing in. No HTTP, no commit."""

from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy.orm import object_session

from backend.accounts import passwords
from backend.accounts.errors import InvalidCredentials, PasswordReused, WrongCurrentPassword
from backend.accounts.models import PasswordHistory
from backend.db import utcnow
from backend.org.models import User


def _config(name: str, default: int) -> int:
    return int(current_app.config.get(name, default)) if has_app_context() else default


def end_sessions(*, user: User) -> None:
    """Every session of this person ends at its next request (see backend/accounts/sessions.py)."""
    user.session_version = (user.session_version or 0) + 1


def _recent_hashes(session, user: User) -> list[str]:
    """The current password and the ones before it, newest first: PASSWORD_HISTORY in all."""
    keep = _config("PASSWORD_HISTORY", 5)
    hashes = [user.password_hash] if user.password_hash else []
    if session is not None and user.id is not None and keep > 1:
        hashes += session.scalars(
            sa.select(PasswordHistory.password_hash)
            .where(PasswordHistory.user_id == user.id)
            .order_by(PasswordHistory.created_at.desc(), PasswordHistory.id.desc())
            .limit(keep - 1)
        ).all()
    return hashes[:keep]


def set_password(
    *,
    user: User,
    password: str,
    must_change: bool = False,
    enforce_policy: bool = True,
    check_history: bool = False,
) -> None:
    """Store an argon2 hash of the password; the policy is checked unless told otherwise, the
    last PASSWORD_HISTORY passwords when `check_history`. The old hash goes to the history and
    the person's other sessions end."""
    if enforce_policy:
        passwords.check_policy(password)
    session = object_session(user)
    if check_history and any(passwords.verify_password(h, password) for h in _recent_hashes(session, user)):
        raise PasswordReused(_config("PASSWORD_HISTORY", 5))
    if user.password_hash and session is not None and user.id is not None:
        session.add(PasswordHistory(user_id=user.id, password_hash=user.password_hash))
        _trim_history(session, user)
        end_sessions(user=user)
    user.password_hash = passwords.hash_password(password)
    user.must_change_password = must_change
    user.password_changed_at = utcnow()


def _trim_history(session, user: User) -> None:
    session.flush()
    keep = max(_config("PASSWORD_HISTORY", 5), 1)
    old = session.scalars(
        sa.select(PasswordHistory.id)
        .where(PasswordHistory.user_id == user.id)
        .order_by(PasswordHistory.created_at.desc(), PasswordHistory.id.desc())
        .offset(keep)
    ).all()
    if old:
        session.execute(sa.delete(PasswordHistory).where(PasswordHistory.id.in_(old)))


def check_password(*, user: User, password: str) -> bool:
    """True when the password is the user's; a user without a password never matches."""
    return passwords.verify_password(user.password_hash, password)


def find_user(*, session, username: str) -> User | None:
    return session.scalar(sa.select(User).where(User.username == username.strip()))


def authenticate(*, session, username: str, password: str) -> User:
    """The active user with this username and password, or InvalidCredentials (never saying why)."""
    user = find_user(session=session, username=username)
    if user is None:
        passwords.verify_password(None, password)  # same cost as a wrong password
        raise InvalidCredentials()
    if not check_password(user=user, password=password) or not user.active:
        raise InvalidCredentials()
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    return user


def signed_in(*, user: User) -> None:
    """Bookkeeping of a completed sign-in (after the second factor when there is one)."""
    user.last_login_at = utcnow()


def password_expired(*, user: User, now=None) -> bool:
    """Older than PASSWORD_MAX_AGE_DAYS (0 turns expiry off); an unknown age counts as expired."""
    max_age = _config("PASSWORD_MAX_AGE_DAYS", 90)
    if max_age <= 0:
        return False
    changed = user.password_changed_at
    return changed is None or changed < (now or utcnow()) - timedelta(days=max_age)


def expire_if_old(*, user: User, now=None) -> bool:
    """At sign-in: an expired password must be changed before anything else (the first-sign-in
    flow). True when it was."""
    if password_expired(user=user, now=now):
        user.must_change_password = True
        return True
    return False


def change_password(*, user: User, current_password: str, new_password: str) -> None:
    """The user's own change: the current password is required, the new one must pass the policy
    and not be one of the last PASSWORD_HISTORY."""
    if not check_password(user=user, password=current_password):
        raise WrongCurrentPassword()
    set_password(user=user, password=new_password, must_change=False, check_history=True)


def get_user(*, session, user_id: int) -> User | None:
    return session.get(User, user_id)
