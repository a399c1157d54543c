"""Signing in from tests through the real pages, second factor included.

`sign_in(client, username, password)` posts the sign-in form; when the TOTP step appears
(admins, department heads, anyone who turned it on) it answers with the current code of the
person's stored secret, and when a person who must use TOTP has not enrolled yet it enrolls
them through /account/2fa. Returns the response of the step that signed the person in (a 302).

The secret is read from the database (decrypted with backend.crypto) in the client's app. A
code is accepted only once per 30-second step, so before answering, the helper forgets the
last accepted step: tests sign the same person in many times within seconds.
"""

import re
from contextlib import contextmanager
from urllib.parse import unquote

import pyotp
import sqlalchemy as sa
from flask import current_app, has_app_context

from backend.accounts import totp
from backend.extensions import db
from backend.org.models import User


@contextmanager
def _db_of(app):
    """The session to read the person with: the test's own when it runs in this app's context
    (requests share it), else a fresh context of the app."""
    if has_app_context() and current_app._get_current_object() is app:
        yield db.session
        return
    with app.app_context():
        try:
            yield db.session
        finally:
            db.session.remove()


def _fresh_secret(app, username: str) -> str:
    with _db_of(app) as session:
        user = session.scalar(sa.select(User).where(User.username == username))
        assert user is not None and user.totp_secret_enc, f"{username} has no TOTP secret"
        user.totp_last_step = None
        secret = totp.secret_of(user)
        session.commit()
    return secret


def totp_code(app, username: str) -> str:
    """A code the platform accepts now for this person (their stored secret)."""
    return pyotp.TOTP(_fresh_secret(app, username)).now()


def answer_totp(client, username: str):
    return client.post("/login/verify", data={"code": totp_code(client.application, username)})


def enroll(client, username: str, next_path: str | None = None) -> list[str]:
    """Bind the second factor through /account/2fa; returns the recovery codes shown."""
    query = {"next": next_path} if next_path else {}
    page = client.get("/account/2fa", query_string=query)
    assert page.status_code == 200, page.get_data(as_text=True)[:300]
    done = client.post(
        "/account/2fa", data={"code": totp_code(client.application, username)}, query_string=query
    )
    html = done.get_data(as_text=True)
    assert done.status_code == 200 and "data-recovery-codes" in html, html[:500]
    return re.findall(r'<li class="list-group-item font-monospace">([^<]+)</li>', html)


def sign_in(client, username: str, password: str, **kwargs):
    """Sign in as the person, through the TOTP step or the enrollment when there is one."""
    response = client.post("/login", data={"username": username, "password": password}, **kwargs)
    location = response.headers.get("Location", "") if response.status_code == 302 else ""
    if location.startswith("/login/verify"):
        response = answer_totp(client, username)
        location = response.headers.get("Location", "") if response.status_code == 302 else ""
    if location.startswith("/account/2fa"):
        next_path = re.search(r"[?&]next=([^&]+)", location)
        enroll(client, username, unquote(next_path.group(1)) if next_path else None)
    return response
