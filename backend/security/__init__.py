"""Hardening (MLPS level 3): security headers and CSP, cookie flags, proxy awareness, rate
limits (sign-in, webhooks), a Chinese 413/429, safe XML parsing (`backend.security.xml`) and
secrets masked in logs (`backend.security.redact`).

Configuration (backend/config.py, from the environment):
- SESSION_COOKIE_SECURE: default true when PUBLIC_BASE_URL is https://.
- PROXY_FIX_HOPS: proxies in front (nginx = 1) whose X-Forwarded-For/-Proto/-Host are trusted:
  the client address for rate limits and lockout, https for HSTS and Secure cookies.
- HSTS_SECONDS: max-age of Strict-Transport-Security, sent on HTTPS requests only.
- LOGIN_RATE_LIMIT ("60/60": sign-in POSTs per source address per minute; an office behind
  one NAT address shares it), LOGIN_ACCOUNT_RATE_LIMIT ("10/60": per address and username),
  WEBHOOK_RATE_LIMIT ("36000/60": calls per hook per minute; the bench needs 200/s),
  RATE_LIMIT_ENABLED; counters in Redis when REDIS_URL is set, else in memory.
- MAX_CONTENT_LENGTH: largest request body (bytes); larger ones get 413.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, render_template, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

from backend.security import headers, redact
from backend.security.ratelimit import Limit, RateLimiter

# Endpoints whose POSTs are sign-in attempts (password or second factor), per source address.
# (There is no self-service password reset: the system admin resets, signed in.)
SIGN_IN_ENDPOINTS = {
    "accounts.login",
    "accounts.verify",  # backend/accounts: the TOTP / recovery-code step after the password
    "accounts.change_password",  # asks for the current password
    "accounts.totp_setup",  # confirms a TOTP code
    "accounts.totp_disable",  # asks for the password
}
WEBHOOK_ENDPOINT = "webhooks_api.receive"

DEFAULTS = {
    "HSTS_SECONDS": 31536000,
    "PROXY_FIX_HOPS": 0,
    "RATE_LIMIT_ENABLED": True,
    "LOGIN_RATE_LIMIT": "60/60",
    "LOGIN_ACCOUNT_RATE_LIMIT": "10/60",
    "WEBHOOK_RATE_LIMIT": "36000/60",
}


def init_app(app: Flask) -> None:
    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    if app.config.get("SESSION_COOKIE_SAMESITE") is None:
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    # flask-login's remember-me cookie (unused today) gets the same flags as the session's.
    app.config.setdefault("REMEMBER_COOKIE_SECURE", bool(app.config.get("SESSION_COOKIE_SECURE")))
    app.config.setdefault("REMEMBER_COOKIE_HTTPONLY", True)
    app.config.setdefault("REMEMBER_COOKIE_SAMESITE", "Lax")

    hops = int(app.config["PROXY_FIX_HOPS"] or 0)
    if hops > 0 and not isinstance(app.wsgi_app, ProxyFix):
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)

    # Templates only (the 413/429/CSRF pages); no routes.
    app.register_blueprint(Blueprint("security", __name__, template_folder="templates"))

    limiter = RateLimiter(app.config.get("REDIS_URL") or "")
    app.extensions["rate_limiter"] = limiter

    @app.before_request
    def _rate_limit():
        if not app.config["RATE_LIMIT_ENABLED"] or request.method != "POST":
            return None
        endpoint = request.endpoint or ""
        if endpoint in SIGN_IN_ENDPOINTS:
            address = request.remote_addr or "-"
            # The username of the form, or the signed-in person's (password change, 2FA step).
            who = request.form.get("username") or getattr(current_user, "username", None) or ""
            checks = [
                ("login", address, "LOGIN_RATE_LIMIT"),
                ("login-account", f"{address}|{who}", "LOGIN_ACCOUNT_RATE_LIMIT"),
            ]
        elif endpoint == WEBHOOK_ENDPOINT:
            checks = [("hook", (request.view_args or {}).get("name", ""), "WEBHOOK_RATE_LIMIT")]
        else:
            return None
        for bucket, subject, setting in checks:
            limit = Limit.parse(str(app.config.get(setting) or ""))
            if limit is None:
                continue
            verdict = limiter.hit(bucket, subject, limit)
            if verdict.allowed:
                continue
            if verdict.first_refusal:
                _audit_refusal(bucket, subject)
            return _too_many(verdict.retry_after)
        return None

    @app.after_request
    def _security_headers(response: Response) -> Response:
        return headers.apply(app, response)

    app.register_error_handler(RequestEntityTooLarge, _too_large)
    app.register_error_handler(CSRFError, _csrf_refused)
    redact.install()


def _audit_refusal(bucket: str, subject: str) -> None:
    """Once per window and subject: a flood must not become a flood of audit rows."""
    from backend.audit import record
    from backend.extensions import db

    record(
        "security.rate_limited", result="denied", object_type=bucket, object_id=subject, session=db.session
    )
    db.session.commit()


def _too_many(retry_after: int) -> Response:
    from flask_babel import gettext as _

    from backend.api.problems import is_api_request, problem

    message = _("请求过于频繁, 请在 %(seconds)s 秒后重试", seconds=retry_after)
    if is_api_request():
        return problem(429, None, message, headers={"Retry-After": str(retry_after)})
    body = render_template("security/error.html", status=429, title=_("请求过于频繁"), message=message)
    return Response(body, status=429, headers={"Retry-After": str(retry_after)})


def _too_large(exc: RequestEntityTooLarge):
    from flask import current_app
    from flask_babel import gettext as _

    from backend.api.problems import is_api_request, problem

    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit and (request.content_length or 0) > limit:
        size = f"{limit / 1024 / 1024:.0f} MB"
        message = _("上传的内容超过了允许的大小 %(size)s, 请压缩或拆分后重试", size=size)
    else:  # werkzeug's MAX_FORM_MEMORY_SIZE: one text field far too long
        message = _("提交的表单内容过大, 请减少填写的文字或分开提交")
    if is_api_request():
        return problem(413, None, message)
    body = render_template("security/error.html", status=413, title=_("请求体过大"), message=message)
    return Response(body, status=413)


def _csrf_refused(exc: CSRFError):
    """A form posted without (or with an expired) CSRF token: nothing was done."""
    from flask_babel import gettext as _

    from backend.api.problems import is_api_request, problem

    if is_api_request():
        return problem(400, _("CSRF 令牌无效"), _("浏览器会话的写请求需要 CSRF 令牌; API 密钥请求不需要"))
    message = _("页面已过期或缺少安全令牌 (CSRF), 操作未执行。请刷新页面后重试。")
    body = render_template("security/error.html", status=400, title=_("请求无效"), message=message)
    return Response(body, status=400)
