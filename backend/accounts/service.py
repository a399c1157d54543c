"""Accounts: passwords of people (backend/org User) and signing in. No HTTP, no commit."""

import sqlalchemy as sa

from backend.accounts import passwords
from backend.accounts.errors import InvalidCredentials, WrongCurrentPassword
from backend.db import utcnow
from backend.org.models import User


def set_password(
    *, user: User, password: str, must_change: bool = False, enforce_policy: bool = True
) -> None:
    """Store an argon2 hash of the password; the policy is checked unless told otherwise."""
    if enforce_policy:
        passwords.check_policy(password)
    user.password_hash = passwords.hash_password(password)
    user.must_change_password = must_change


def check_password(*, user: User, password: str) -> bool:
    """True when the password is the user's; a user without a password never matches."""
    return passwords.verify_password(user.password_hash, password)


def authenticate(*, session, username: str, password: str) -> User:
    """The active user with this username and password, or InvalidCredentials (never saying why)."""
    user = session.scalar(sa.select(User).where(User.username == username.strip()))
    if user is None:
        passwords.verify_password(None, password)  # same cost as a wrong password
        raise InvalidCredentials()
    if not check_password(user=user, password=password) or not user.active:
        raise InvalidCredentials()
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    user.last_login_at = utcnow()
    return user


def change_password(*, user: User, current_password: str, new_password: str) -> None:
    """The user's own change: the current password is required and the new one must pass the policy."""
    if not check_password(user=user, password=current_password):
        raise WrongCurrentPassword()
    set_password(user=user, password=new_password, must_change=False)


def get_user(*, session, user_id: int) -> User | None:
    return session.get(User, user_id)
