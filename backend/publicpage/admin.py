"""Staff side of the public page: /projects/<code>/publication (the switch, photos, the
moderation queue) and the printable site board /projects/<code>/publication/board.

Who: "publication.manage" (owner, window) and the project in the person's data scope; a person
of a unit (the owner's staff) only for their own unit's projects — a region's other owners see
the project but do not publish for it."""

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

from backend.authz import require_permission, visible_project_or_404
from backend.extensions import db
from backend.files.errors import FileMissing
from backend.files.models import StoredFile
from backend.files.service import open_file
from backend.projects.models import Project
from backend.publicpage import cache, service
from backend.publicpage.models import PublicFeedback, PublicPhoto
from backend.publicpage.qr import public_url, qr_for

bp = Blueprint("publication", __name__, template_folder="templates")


def _managed_project(code: str) -> Project:
    project = visible_project_or_404(code)
    if current_user.unit_id is not None and current_user.unit_id != project.owner_unit_id:
        abort(403)
    return project


def _render(project: Project, *, errors=None, status: int = 200):
    return (
        render_template(
            "publicpage/manage.html",
            project=project,
            is_public_state=project.status in service.PUBLIC_STATES,
            enabled=service.is_enabled(session=db.session, project_id=project.id),
            public_url=public_url(project.code),
            photos=service.photos_of(session=db.session, project_id=project.id),
            candidates=service.candidate_photos(session=db.session, project_id=project.id),
            pending=service.pending_feedback(session=db.session, project_id=project.id),
            moderated=service.moderated_feedback(session=db.session, project_id=project.id),
            satisfaction=service.satisfaction(session=db.session, project_id=project.id),
            errors=errors or {},
            max_caption=service.CAPTION_MAX,
        ),
        status,
    )


def _done(project: Project, message: str):
    db.session.commit()
    cache.pages.invalidate(project.code)
    flash(message, "success")
    return redirect(url_for("publication.manage", code=project.code))


def _refused(project: Project, exc: service.PublicationError):
    db.session.rollback()
    return _render(project, errors={k: _(v) for k, v in exc.errors.items()}, status=400)


@bp.get("/projects/<code>/publication")
@require_permission("publication.manage")
def manage(code: str):
    return _render(_managed_project(code))


@bp.post("/projects/<code>/publication/switch")
@require_permission("publication.manage")
def switch(code: str):
    project = _managed_project(code)
    enabled = request.form.get("enabled") == "1"
    service.set_enabled(session=db.session, project=project, enabled=enabled, by=current_user.username)
    return _done(project, _("已开启项目公开页") if enabled else _("已关闭项目公开页"))


@bp.post("/projects/<code>/publication/photos")
@require_permission("publication.manage")
def upload_photo(code: str):
    project = _managed_project(code)
    upload = request.files.get("photo")
    data = upload.read(service.PHOTO_MAX_BYTES + 1) if upload else b""
    if not data:
        return _render(project, errors={"photo": _("请选择要公开的照片")}, status=400)
    try:
        service.add_photo(
            session=db.session,
            project=project,
            data=data,
            declared_name=upload.filename or "photo.jpg",
            caption=request.form.get("caption", ""),
            by=current_user.username,
        )
    except service.PublicationError as exc:
        return _refused(project, exc)
    return _done(project, _("照片已公开"))


def _photo_of(project: Project, photo_id: int) -> PublicPhoto:
    photo = db.session.get(PublicPhoto, photo_id)
    if photo is None or photo.project_id != project.id:
        abort(404)
    return photo


@bp.post("/projects/<code>/publication/photos/<int:photo_id>")
@require_permission("publication.manage")
def edit_photo(code: str, photo_id: int):
    project = _managed_project(code)
    photo = _photo_of(project, photo_id)
    position = request.form.get("position", type=int)
    try:
        service.update_photo(
            session=db.session,
            photo=photo,
            caption=request.form.get("caption", photo.caption),
            position=photo.position if position is None else position,
            published=request.form.get("published", "1" if photo.published else "0") == "1",
            by=current_user.username,
        )
    except service.PublicationError as exc:
        return _refused(project, exc)
    return _done(project, _("照片已更新"))


@bp.post("/projects/<code>/publication/site-photos")
@require_permission("publication.manage")
def publish_site_photo(code: str):
    project = _managed_project(code)
    try:
        service.add_site_photo(
            session=db.session,
            project=project,
            photo_id=request.form.get("site_photo_id", type=int) or 0,
            caption=request.form.get("caption", ""),
            by=current_user.username,
        )
    except service.PublicationError as exc:
        return _refused(project, exc)
    return _done(project, _("照片已公开"))


@bp.get("/projects/<code>/publication/site-photos/<int:photo_id>.jpg")
@require_permission("publication.manage")
def site_photo_preview(code: str, photo_id: int):
    """A candidate's thumbnail (the original until the thumbnail job has run), for choosing."""
    row = service.candidate_photo(session=db.session, project_id=_managed_project(code).id, photo_id=photo_id)
    if row is None:
        abort(404)
    sha256 = row.thumb_sha256 or row.sha256
    stored = db.session.get(StoredFile, sha256)
    try:
        stream = open_file(sha256=sha256)
    except FileMissing:
        abort(404)
    response = send_file(stream, mimetype=stored.content_type if stored else "image/jpeg", max_age=0)
    response.cache_control.private = True
    return response


@bp.get("/projects/<code>/publication/photos/<int:photo_id>.jpg")
@require_permission("publication.manage")
def photo_preview(code: str, photo_id: int):
    """The published (re-encoded) copy, also of an unpublished photo; never the original."""
    photo = _photo_of(_managed_project(code), photo_id)
    try:
        stream = open_file(sha256=photo.published_sha256)
    except FileMissing:
        abort(404)
    response = send_file(stream, mimetype="image/jpeg", max_age=0)
    response.cache_control.private = True
    return response


@bp.post("/projects/<code>/publication/feedback/<int:feedback_id>")
@require_permission("publication.manage")
def moderate(code: str, feedback_id: int):
    project = _managed_project(code)
    feedback = db.session.get(PublicFeedback, feedback_id)
    if feedback is None or feedback.project_id != project.id:
        abort(404)
    approve = request.form.get("decision") == "approve"
    try:
        service.moderate(
            session=db.session,
            feedback=feedback,
            approve=approve,
            reason=request.form.get("reason", ""),
            by=current_user.username,
        )
    except service.PublicationError as exc:
        return _refused(project, exc)
    return _done(project, _("评价已通过审核并公开") if approve else _("评价已驳回"))


@bp.get("/projects/<code>/publication/board")
@require_permission("publication.manage")
def board(code: str):
    project = _managed_project(code)
    qr_svg = qr_for(project.code).svg_inline(scale=10, border=4, omitsize=True, dark="#000", light="#fff")
    body = render_template(
        "publicpage/board.html",
        project=project,
        public_url=public_url(project.code),
        qr_svg=qr_svg,
        is_public=service.public_state(session=db.session, code=project.code) is not None,
    )
    return Response(body)
