"""The public side, no sign-in: /p/<code> (the page), its QR code, published photos and the
feedback form. Everything not public answers the same 404 page, whatever the reason."""

from __future__ import annotations

import hashlib
import hmac
import io
import logging

from flask import Blueprint, Response, current_app, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _

from backend.db import utcnow
from backend.extensions import db
from backend.files.errors import FileMissing
from backend.files.service import open_file
from backend.i18n import current_language
from backend.publicpage import cache, service
from backend.publicpage.qr import public_url, qr_for
from backend.security.ratelimit import Limit
from backend.workdays.service import local_date

bp = Blueprint("publicpage", __name__, template_folder="templates")
log = logging.getLogger("backend.publicpage")

HONEYPOT = "website"  # hidden from people by CSS; bots fill every field


def _salt() -> bytes:
    configured = current_app.config.get("PUBLIC_IP_SALT")
    if configured:
        return str(configured).encode()
    # Derived, so a deployment needs no extra secret; changes only when SECRET_KEY does.
    return hmac.new(
        str(current_app.config["SECRET_KEY"]).encode(), b"public-ip-salt", hashlib.sha256
    ).digest()


def _address_hash() -> str:
    return service.ip_hash(request.remote_addr or "-", salt=_salt())


def _limited(bucket: str, setting: str) -> Response | None:
    """A 429 page when this address has used up the limit, else None. Counted by the salted
    hash of the address: no raw address in the counters either."""
    if not current_app.config.get("RATE_LIMIT_ENABLED", True):
        return None
    limit = Limit.parse(str(current_app.config.get(setting) or ""))
    if limit is None:
        return None
    verdict = current_app.extensions["rate_limiter"].hit(bucket, _address_hash(), limit)
    if verdict.allowed:
        return None
    if verdict.first_refusal:
        log.info("publicpage.rate_limited", extra={"bucket": bucket})
    body = render_template(
        "publicpage/message.html",
        title=_("访问过于频繁"),
        message=_("访问过于频繁, 请在 %(seconds)s 秒后再试。", seconds=verdict.retry_after),
        project=None,
    )
    return Response(
        body, status=429, headers={"Retry-After": str(verdict.retry_after), "Cache-Control": "no-store"}
    )


def _not_found() -> Response:
    """One page for every project that is not public (none, draft, switched off...)."""
    body = render_template(
        "publicpage/message.html",
        title=_("未找到"),
        message=_("没有找到该项目的公开信息。"),
        project=None,
    )
    return Response(body, status=404, headers={"Cache-Control": "no-store"})


@bp.get("/p/<code>")
def page(code: str):
    limited = _limited("public", "PUBLIC_RATE_LIMIT")
    if limited is not None:
        return limited
    state = service.public_state(session=db.session, code=code)
    if state is None:
        return _not_found()
    project, version = state
    today = local_date(utcnow())
    key = (project.code, current_language(), version, project.status, today.isoformat())
    body = cache.pages.get(key)
    if body is None:
        view = service.page_of(session=db.session, project=project, today=today)
        body = render_template("publicpage/page.html", page=view, public_url=public_url(project.code))
        cache.pages.put(key, body, ttl=float(current_app.config.get("PUBLIC_PAGE_CACHE_SECONDS", 60)))
    response = Response(body, mimetype="text/html")
    response.headers["Cache-Control"] = f"public, max-age={int(current_app.config.get('PUBLIC_MAX_AGE', 60))}"
    response.vary.add("Accept-Language")
    response.vary.add("Cookie")
    return response


def _qr_response(code: str, kind: str):
    limited = _limited("public", "PUBLIC_RATE_LIMIT")
    if limited is not None:
        return limited
    if service.public_state(session=db.session, code=code) is None:
        return _not_found()
    out = io.BytesIO()
    qr = qr_for(code)
    if kind == "svg":
        qr.save(out, kind="svg", scale=10, border=4, xmldecl=True, svgns=True)
        mimetype = "image/svg+xml"
    else:
        qr.save(out, kind="png", scale=10, border=4)
        mimetype = "image/png"
    response = Response(out.getvalue(), mimetype=mimetype)
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@bp.get("/p/<code>/qr.svg")
def qr_svg(code: str):
    return _qr_response(code, "svg")


@bp.get("/p/<code>/qr.png")
def qr_png(code: str):
    return _qr_response(code, "png")


@bp.get("/p/<code>/photos/<sha256>.jpg")
def photo(code: str, sha256: str):
    limited = _limited("public-photo", "PUBLIC_PHOTO_RATE_LIMIT")
    if limited is not None:
        return limited
    state = service.public_state(session=db.session, code=code)
    if state is None or not service.is_published_photo(
        session=db.session, project_id=state[0].id, sha256=sha256
    ):
        return _not_found()
    try:
        stream = open_file(sha256=sha256)
    except (FileMissing, ValueError):
        return _not_found()
    # Named by the hash of its bytes: it never changes, so caches may keep it for a year.
    response = send_file(stream, mimetype="image/jpeg", etag=sha256, conditional=True, max_age=31536000)
    response.cache_control.public = True
    response.cache_control.immutable = True
    return response


def _feedback_form(project, *, errors=None, values=None, status: int = 200):
    body = render_template(
        "publicpage/feedback.html",
        code=project.code,
        name=project.name,
        errors=errors or {},
        values=values or {},
        honeypot=HONEYPOT,
        max_length=service.COMMENT_MAX,
    )
    return Response(body, status=status, headers={"Cache-Control": "no-store"})


@bp.get("/p/<code>/feedback")
def feedback_form(code: str):
    limited = _limited("public", "PUBLIC_RATE_LIMIT")
    if limited is not None:
        return limited
    state = service.public_state(session=db.session, code=code)
    if state is None:
        return _not_found()
    return _feedback_form(state[0])


@bp.post("/p/<code>/feedback")
def feedback(code: str):
    limited = _limited("public-feedback", "PUBLIC_FEEDBACK_RATE_LIMIT")
    if limited is not None:
        return limited
    state = service.public_state(session=db.session, code=code)
    if state is None:
        return _not_found()
    project = state[0]
    if (request.form.get(HONEYPOT) or "").strip():
        # A bot: it sees the same answer as a person, and nothing is stored.
        log.info("publicpage.honeypot")
        return redirect(url_for("publicpage.feedback_thanks", code=project.code))
    values = {"rating": request.form.get("rating", ""), "comment": request.form.get("comment", "")}
    try:
        service.submit_feedback(
            session=db.session,
            project=project,
            rating=values["rating"],
            comment=values["comment"],
            address_hash=_address_hash(),
        )
    except service.PublicationError as exc:
        db.session.rollback()
        errors = {field: _(message) for field, message in exc.errors.items()}
        return _feedback_form(project, errors=errors, values=values, status=400)
    db.session.commit()
    return redirect(url_for("publicpage.feedback_thanks", code=project.code))


@bp.get("/p/<code>/feedback/thanks")
def feedback_thanks(code: str):
    state = service.public_state(session=db.session, code=code)
    if state is None:
        return _not_found()
    body = render_template(
        "publicpage/message.html",
        title=_("感谢您的评价"),
        message=_("您的评价已提交, 经审核后将显示在项目公开页上。"),
        project={"code": state[0].code, "name": state[0].name},
    )
    return Response(body, headers={"Cache-Control": "no-store"})
