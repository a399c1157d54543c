"""/admin/roles: the security admin grants and revokes permissions of roles and assigns
business roles to people (permission "roles.manage"); every change is audited."""

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from backend.authz import require_permission, role_grants, service
from backend.authz.permissions import ADMIN_ROLES, PERMISSIONS
from backend.extensions import db
from backend.org.models import User

bp = Blueprint("authz", __name__, url_prefix="/admin/roles", template_folder="templates")

PAGE_SIZE = 50


@bp.get("")
@require_permission("roles.manage")
def index():
    roles = service.list_roles(session=db.session)
    grants = role_grants(session=db.session)
    query = (request.args.get("q") or "").strip()
    people = sa.select(User).order_by(User.username).limit(PAGE_SIZE)
    if query:
        like = f"%{query}%"
        people = people.where(sa.or_(User.username.ilike(like), User.display_name.ilike(like)))
    users = list(db.session.scalars(people))
    return render_template(
        "authz/roles.html",
        roles=roles,
        grants=grants,
        permissions=PERMISSIONS,
        admin_roles=ADMIN_ROLES,
        users=users,
        query=query,
    )


@bp.post("/<code>")
@require_permission("roles.manage")
def update_role(code):
    wanted = {p for p in request.form.getlist("permission") if p in PERMISSIONS}
    try:
        added, removed = service.set_grants(
            session=db.session, role=code, permissions=wanted, actor=current_user
        )
    except service.AuthzError as exc:
        db.session.rollback()
        flash(_(exc.message, **exc.params), "danger")
        return redirect(url_for("authz.index")), 303
    db.session.commit()
    flash(
        _(
            "已更新角色 %(role)s 的权限: 授予 %(added)s 项, 撤销 %(removed)s 项",
            role=code,
            added=len(added),
            removed=len(removed),
        ),
        "success",
    )
    return redirect(url_for("authz.index")), 303


@bp.post("/new")
@require_permission("roles.manage")
def create_role():
    try:
        role = service.create_role(
            session=db.session,
            code=request.form.get("code", ""),
            name=request.form.get("name", ""),
            actor=current_user,
        )
    except service.AuthzError as exc:
        db.session.rollback()
        flash(_(exc.message, **exc.params), "danger")
        return redirect(url_for("authz.index")), 303
    db.session.commit()
    flash(_("已新建角色 %(role)s", role=role.code), "success")
    return redirect(url_for("authz.index")), 303


@bp.post("/users/<int:user_id>")
@require_permission("roles.manage")
def assign(user_id):
    user = db.session.get(User, user_id)
    if user is None:
        flash(_("用户不存在"), "danger")
        return redirect(url_for("authz.index")), 303
    roles = [r for r in request.form.getlist("role") if r]
    try:
        service.assign_roles(session=db.session, user=user, roles=roles, actor=current_user)
    except service.AuthzError as exc:
        db.session.rollback()
        flash(_(exc.message, **exc.params), "danger")
        return redirect(url_for("authz.index", q=user.username)), 303
    db.session.commit()
    flash(_("已更新 %(user)s 的角色", user=user.username), "success")
    return redirect(url_for("authz.index", q=user.username)), 303
