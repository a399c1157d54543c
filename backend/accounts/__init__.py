"""Accounts: passwords (argon2id, policy, expiry, history), sign-in and sign-out (flask-login)
with lockout, session timeouts and the TOTP second factor, account administration
(/admin/users), CSRF (flask-wtf), the base layout's front-end assets from npm (`/vendor/...`).

`init_app` must run after `org.init_app` (the demo password loader follows the demo people).
"""

from flask import Flask
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

from backend.accounts.errors import (
    AccountError,
    AccountLocked,
    InvalidCredentials,
    PasswordReused,
    WeakPassword,
    WrongCurrentPassword,
)
from backend.accounts.passwords import check_policy, password_problems
from backend.accounts.service import authenticate, change_password, check_password, set_password

__all__ = [
    "AccountError",
    "AccountLocked",
    "PasswordReused",
    "InvalidCredentials",
    "WeakPassword",
    "WrongCurrentPassword",
    "authenticate",
    "change_password",
    "check_password",
    "check_policy",
    "csrf",
    "init_app",
    "login_manager",
    "password_problems",
    "set_password",
]

login_manager = LoginManager()
login_manager.login_view = "accounts.login"
login_manager.login_message = "请先登录"
login_manager.login_message_category = "warning"
login_manager.session_protection = "basic"

# Every POST/PUT/PATCH/DELETE of the app needs the token; a token-authenticated REST API
# blueprint opts out with `csrf.exempt(bp)`.
csrf = CSRFProtect()


@login_manager.user_loader
def _load_user(user_id: str):
    from backend.accounts import sessions
    from backend.accounts.service import get_user
    from backend.extensions import db

    try:
        user = get_user(session=db.session, user_id=int(user_id))
    except ValueError:
        return None
    # A person disabled after signing in is signed out on their next request.
    if user is None or not user.active:
        return None
    # Idle, too old, or ended by a password change / sign-out elsewhere: signed out now.
    reason = sessions.problem(user)
    if reason is not None:
        sessions.end(reason)
        return None
    sessions.touch()
    return user


def init_app(app: Flask) -> None:
    from backend.accounts import admin, demo, models, vendor, views  # noqa: F401  (demo registers its loader)

    if app.config.get("SESSION_COOKIE_SAMESITE") is None:
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    login_manager.init_app(app)
    csrf.init_app(app)
    app.register_blueprint(views.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(vendor.bp)
    app.jinja_env.globals["vendor_url"] = vendor.vendor_url
