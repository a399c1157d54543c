"""Site pages: /projects/<code>/site (spot-check feed), .../site/checkin, .../site/log,
.../site/location, /site/feed (every project one sees), and the photos. Thin: rules in
service.py. Every project page goes through site_project_or_404."""

from datetime import date
from functools import wraps

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

from backend.authz import _record_denied, _unauthenticated, forbidden, has_permission, require_permission
from backend.authz.scope import project_clause, scope_of
from backend.db import utcnow
from backend.extensions import db
from backend.files.errors import FileMissing, FileRefused
from backend.files.service import open_file
from backend.org.models import User
from backend.projects.models import Project
from backend.schedule.models import WbsItem
from backend.security.headers import PERMISSIONS_POLICY
from backend.site import exif, service
from backend.site.models import SiteLogRevision, SitePhoto
from backend.workdays.service import local_date

bp = Blueprint("site", __name__, template_folder="templates")

# The platform denies geolocation to every page (backend/security/headers.py, set by default
# only); the pages that ask for the phone's position allow it for our own origin. Browsers
# give a position only over HTTPS (or on localhost).
LOCATING_ENDPOINTS = {"site.checkin", "site.location"}


@bp.app_template_filter("site_quantity")
def site_quantity(value) -> str:
    """A Decimal quantity as a person writes it: 380.000 → 380, 42.500 → 42.5."""
    return service.plain_number(value)


@bp.after_request
def allow_geolocation(response):
    if request.endpoint in LOCATING_ENDPOINTS and response.mimetype == "text/html":
        response.headers["Permissions-Policy"] = PERMISSIONS_POLICY.replace(
            "geolocation=()", "geolocation=(self)"
        )
    return response


SITE_PERMISSIONS = ("site.checkin", "site.inspect")


def require_site_permission(view):
    """Signed in and holding site.checkin or site.inspect (the page then decides by project)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return _unauthenticated()
        if not any(has_permission(current_user, perm) for perm in SITE_PERMISSIONS):
            _record_denied("site.checkin|site.inspect")
            return forbidden()
        return view(*args, **kwargs)

    return wrapper


def site_project_or_404(code: str) -> tuple[Project, service.Access]:
    """The project and what the signed-in person may do on its site; 404 for anyone who
    neither works on it nor spot-checks it (contractors are not in the strict data scope)."""
    project = db.session.scalar(sa.select(Project).where(Project.code == code))
    if project is None:
        abort(404)
    access = service.access_of(session=db.session, user=current_user, project=project)
    if not access.any:
        abort(404)
    return project, access


def _may_edit_site(project: Project) -> bool:
    return has_permission(current_user, "schedule.edit") and current_user.unit_id == project.owner_unit_id


def _uploads(field: str = "photos") -> list[service.Upload]:
    limit = service.setting("SITE_PHOTO_MAX_BYTES")
    uploads = []
    for storage in request.files.getlist(field):
        if storage and storage.filename:
            uploads.append(service.Upload(name=storage.filename, data=storage.read(limit + 1)))
    return uploads


def _common(project, access):
    return {
        "project": project,
        "access": access,
        "may_edit_site": _may_edit_site(project),
        "flag_label": service.flag_label,
    }


@bp.get("/site")
@require_site_permission
def index():
    """The phone's way in: my sites, each with its check-in, log and spot-check pages."""
    return render_template(
        "site/index.html",
        sites=service.projects_of(session=db.session, user=current_user),
        may_feed=has_permission(current_user, "site.inspect"),
    )


# --- the site and its geofence -------------------------------------------------------------------


@bp.route("/projects/<code>/site/location", methods=["GET", "POST"])
@require_permission("schedule.edit")
def location(code: str):
    project, access = site_project_or_404(code)
    if not _may_edit_site(project):
        return forbidden()
    site = service.site_of(session=db.session, project_id=project.id)
    values = {
        "latitude": str(site.latitude) if site else "",
        "longitude": str(site.longitude) if site else "",
        "radius_m": str(site.radius_m) if site else str(service.setting("SITE_DEFAULT_RADIUS_M")),
        "address": site.address if site else "",
    }
    errors = {}
    if request.method == "POST":
        values = {key: request.form.get(key, "").strip() for key in values}
        try:
            service.save_site(session=db.session, project=project, by=current_user.username, **values)
        except service.SiteInvalid as exc:
            db.session.rollback()
            errors = exc.errors
        else:
            db.session.commit()
            flash(_("现场位置已保存"), "success")
            return redirect(url_for("site.location", code=project.code))
    return (
        render_template(
            "site/location.html", site=site, values=values, errors=errors, **_common(project, access)
        ),
        400 if errors else 200,
    )


# --- check-in ------------------------------------------------------------------------------------


@bp.route("/projects/<code>/site/checkin", methods=["GET", "POST"])
@require_permission("site.checkin")
def checkin(code: str):
    project, access = site_project_or_404(code)
    if not access.worker:
        return forbidden()
    errors: dict[str, str] = {}
    note = ""
    if request.method == "POST":
        note = request.form.get("note", "")
        try:
            uploads = service.check_photos(_uploads())
            made = service.record_checkin(
                session=db.session,
                project=project,
                user=current_user,
                latitude=request.form.get("latitude") or None,
                longitude=request.form.get("longitude") or None,
                accuracy=request.form.get("accuracy") or None,
                note=note,
                uploads=uploads,
            )
        except exif.PhotoRefused as exc:
            db.session.rollback()
            errors = {"photos": str(exc)}
        except FileRefused as exc:
            db.session.rollback()
            errors = {"photos": str(exc)}
        except service.SiteInvalid as exc:
            db.session.rollback()
            errors = exc.errors
        else:
            db.session.commit()
            if made.flags:
                labels = "、".join(_(service.flag_label(f)) for f in made.flags)
                flash(_("已打卡, 但有以下异常, 将提示管理人员核查: %(labels)s", labels=labels), "warning")
            else:
                flash(_("已打卡"), "success")
            return redirect(url_for("site.checkin", code=project.code))
    mine = service.feed(session=db.session, project_ids=[project.id], limit=10)
    return (
        render_template(
            "site/checkin.html",
            site=service.site_of(session=db.session, project_id=project.id),
            live=service.open_request(session=db.session, project_id=project.id),
            recent=[row for kind, row in mine if kind == "checkin" and row.username == current_user.username][
                :5
            ],
            errors=errors,
            note=note,
            max_photos=service.setting("SITE_MAX_PHOTOS"),
            **_common(project, access),
        ),
        400 if errors else 200,
    )


# --- daily log -------------------------------------------------------------------------------------


@bp.route("/projects/<code>/site/log", methods=["GET", "POST"])
@require_site_permission
def daily_log(code: str):
    project, access = site_project_or_404(code)
    today = local_date(utcnow())
    try:
        day = date.fromisoformat(request.args["date"]) if request.args.get("date") else today
    except ValueError:
        abort(404)
    log = service.log_of(session=db.session, project_id=project.id, day=day)
    editable = day == today and service.may_edit_log(log, user=current_user, access=access, today=today)
    errors: dict[str, str] = {}
    raw = service.raw_of(log) if log is not None else None
    if request.method == "POST":
        if not editable:
            return forbidden(_("只有当天日志的填写人可以修改"))
        raw = service.raw_log(request.form)
        try:
            form = service.parse_log(raw, session=db.session, project_id=project.id)
            uploads = service.check_photos(_uploads())
            service.save_log(
                session=db.session,
                project=project,
                user=current_user,
                access=access,
                form=form,
                uploads=uploads,
            )
        except service.SiteInvalid as exc:
            db.session.rollback()
            errors = exc.errors
        except (exif.PhotoRefused, FileRefused) as exc:
            db.session.rollback()
            errors = {"photos": str(exc)}
        else:
            db.session.commit()
            flash(_("施工日志已保存"), "success")
            return redirect(url_for("site.daily_log", code=project.code))
    revisions = []
    if log is not None:
        revisions = db.session.scalars(
            sa.select(SiteLogRevision)
            .where(SiteLogRevision.log_id == log.id)
            .order_by(SiteLogRevision.version.desc())
        ).all()
    wbs_items = db.session.scalars(
        sa.select(WbsItem).where(WbsItem.project_id == project.id).order_by(WbsItem.code)
    ).all()
    return (
        render_template(
            "site/log.html",
            log=log,
            day=day,
            today=today,
            editable=editable,
            raw=raw or {"workforce": [], "materials": [], "shortages": [], "equipment": [], "wbs": []},
            errors=errors,
            revisions=revisions,
            wbs_items=wbs_items,
            weather=service.WEATHER,
            trades=service.TRADES,
            equipment_states=service.EQUIPMENT_STATES,
            max_photos=service.setting("SITE_MAX_PHOTOS"),
            **_common(project, access),
        ),
        400 if errors else 200,
    )


# --- spot-checks ---------------------------------------------------------------------------------


@bp.get("/projects/<code>/site")
@require_site_permission
def project_feed(code: str):
    project, access = site_project_or_404(code)
    if not access.manager:
        return redirect(url_for("site.checkin", code=project.code))
    return _render_feed([project], access=access, project=project)


@bp.post("/projects/<code>/site/requests")
@require_site_permission
def request_live(code: str):
    project, access = site_project_or_404(code)
    if not access.manager:
        return forbidden()
    try:
        service.request_checkin(
            session=db.session,
            project=project,
            by=current_user,
            limit_minutes=request.form.get("limit_minutes"),
            note=request.form.get("note", ""),
        )
    except service.SiteInvalid as exc:
        db.session.rollback()
        for message in exc.errors.values():
            flash(_(message), "danger")
    else:
        db.session.commit()
        flash(_("已发出实时打卡要求, 现场人员已收到通知"), "success")
    return redirect(url_for("site.project_feed", code=project.code))


@bp.get("/site/feed")
@require_permission("site.inspect")
def cross_feed():
    projects = db.session.scalars(
        sa.select(Project)
        .where(project_clause(scope_of(current_user, session=db.session)))
        .order_by(Project.code)
    ).all()
    return _render_feed(projects, access=None, project=None)


def _render_feed(projects, *, access, project):
    flagged_only = request.args.get("flagged") == "1"
    ids = [p.id for p in projects]
    items = service.feed(session=db.session, project_ids=ids, flagged_only=flagged_only) if ids else []
    names = {
        u.username: u.display_name
        for u in db.session.scalars(
            sa.select(User).where(
                User.username.in_(
                    {row.username if kind == "checkin" else row.updated_by for kind, row in items}
                )
            )
        )
    }
    return render_template(
        "site/feed.html",
        items=items,
        names=names,
        projects={p.id: p for p in projects},
        requests=service.requests_of(session=db.session, project_ids=ids) if ids else [],
        flagged_only=flagged_only,
        request_states=service.REQUEST_STATES,
        request_limits=service.REQUEST_LIMITS,
        weather=service.WEATHER,
        sites={project.id: service.site_of(session=db.session, project_id=project.id)} if project else {},
        project=project,
        access=access,
        may_edit_site=_may_edit_site(project) if project else False,
        flag_label=service.flag_label,
    )


# --- photos ----------------------------------------------------------------------------------------


@bp.get("/site/photos/<int:photo_id>")
@require_site_permission
def photo(photo_id: int):
    return _send_photo(photo_id, thumb=False)


@bp.get("/site/photos/<int:photo_id>/thumb")
@require_site_permission
def thumbnail(photo_id: int):
    return _send_photo(photo_id, thumb=True)


def _send_photo(photo_id: int, *, thumb: bool):
    row = db.session.get(SitePhoto, photo_id)
    if row is None:
        abort(404)
    project = db.session.get(Project, row.project_id)
    if not service.access_of(session=db.session, user=current_user, project=project).any:
        abort(404)
    sha256 = row.thumb_sha256 if thumb else row.sha256
    if sha256 is None:
        abort(404)
    try:
        stream = open_file(sha256=sha256)
    except FileMissing:
        abort(404)
    from backend.files.models import StoredFile

    response = send_file(
        stream,
        mimetype=db.session.get(StoredFile, sha256).content_type,
        conditional=True,
        etag=sha256,
        max_age=3600,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.cache_control.private = True
    response.cache_control.public = False
    return response
