"""Account administration for the system admin (permission "accounts.manage"): list and search,
create with an initial password, disable/enable, reset the password, unlock, reset the second
factor. Every action is audited. Roles are not edited here (the security admin's /admin/roles).

Initial and reset passwords are generated here and shown once; the person must change them at
the next sign-in.
"""

import secrets
import string

import sqlalchemy as sa
from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from backend.accounts import lockout, service, totp
from backend.audit import record
from backend.authz import forbidden, is_admin, require_permission
from backend.extensions import db
from backend.org.models import Department, User

bp = Blueprint("accounts_admin", __name__, url_prefix="/admin/users", template_folder="templates")

PAGE_SIZE = 50


def temporary_password() -> str:
    """12 characters from all four classes (meets the policy), for the person to replace."""
    classes = (string.ascii_lowercase, string.ascii_uppercase, string.digits, "#@%+=!")
    chars = [secrets.choice(group) for group in classes]
    alphabet = "".join(classes)
    chars += [secrets.choice(alphabet) for _ in range(8)]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


@bp.get("")
@require_permission("accounts.manage")
def index():
    query = request.args.get("q", "").strip()
    page = max(request.args.get("page", 1, type=int), 1)
    statement = sa.select(User).order_by(User.username)
    if query:
        like = f"%{query}%"
        statement = statement.where(sa.or_(User.username.ilike(like), User.display_name.ilike(like)))
    users = db.session.scalars(statement.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)).all()
    more = len(users) > PAGE_SIZE
    users = users[:PAGE_SIZE]
    locked = {u.id for u in users if lockout.account_locked(session=db.session, username=u.username)}
    return render_template(
        "accounts/admin_users.html",
        users=users,
        locked=locked,
        query=query,
        page=page,
        more=more,
        totp_required={u.id for u in users if totp.is_required(u)},
    )


@bp.route("/new", methods=["GET", "POST"])
@require_permission("accounts.manage")
def create():
    departments = db.session.scalars(sa.select(Department).order_by(Department.code)).all()
    if request.method == "GET":
        return render_template("accounts/admin_user_new.html", departments=departments, form={})
    form = {
        k: request.form.get(k, "").strip() for k in ("username", "display_name", "email", "department_id")
    }
    error = None
    if not form["username"] or not form["display_name"]:
        error = _("用户名和姓名必填")
    elif len(form["username"]) > 60 or not all(c.isalnum() or c in "._-" for c in form["username"]):
        error = _("用户名只能包含字母、数字和 . _ -, 最长 60 个字符")
    elif service.find_user(session=db.session, username=form["username"]) is not None:
        error = _("用户名已存在")
    department = None
    if not error and form["department_id"]:
        department = (
            db.session.get(Department, int(form["department_id"]))
            if form["department_id"].isdigit()
            else None
        )
        if department is None:
            error = _("部门不存在")
    if error:
        return render_template(
            "accounts/admin_user_new.html", departments=departments, form=form, error=error
        ), 400
    user = User(
        username=form["username"],
        display_name=form["display_name"],
        email=form["email"] or None,
        department_id=department.id if department else None,
        region_code=department.region_code if department else None,
        roles=[],
        active=True,
    )
    db.session.add(user)
    password = temporary_password()
    service.set_password(user=user, password=password, must_change=True)
    db.session.flush()
    record("user.create", object_type="user", object_id=user.id, detail={"username": user.username})
    db.session.commit()
    return render_template("accounts/admin_password_once.html", person=user, password=password, created=True)


def _person(user_id: int) -> User:
    """The person acted on. Not an administrator: with another admin's password or second
    factor reset, the system admin could sign in as the security or audit admin (三员分立).
    Administrators' credentials are reset at the console (`flask roles reset-admin`)."""
    from flask import abort

    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    if is_admin(user):
        record("user.admin_refused", result="denied", object_type="user", object_id=user.id)
        abort(make_response(forbidden(_("管理员账号不能在此修改: 请在服务器上使用 flask roles reset-admin"))))
    return user


def _done(user: User, action: str, message: str, **detail):
    record(action, object_type="user", object_id=user.id, detail={"username": user.username, **detail})
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("accounts_admin.index", q=user.username))


@bp.post("/<int:user_id>/disable")
@require_permission("accounts.manage")
def disable(user_id: int):
    user = _person(user_id)
    if user.id == current_user.id:
        flash(_("不能停用自己的账号"), "danger")
        return redirect(url_for("accounts_admin.index"))
    user.active = False
    service.end_sessions(user=user)
    return _done(user, "user.disable", _("已停用 %(name)s", name=user.display_name))


@bp.post("/<int:user_id>/enable")
@require_permission("accounts.manage")
def enable(user_id: int):
    user = _person(user_id)
    user.active = True
    return _done(user, "user.enable", _("已启用 %(name)s", name=user.display_name))


@bp.post("/<int:user_id>/reset-password")
@require_permission("accounts.manage")
def reset_password(user_id: int):
    user = _person(user_id)
    password = temporary_password()
    # Must be changed at the next sign-in; their sessions end (set_password bumps the version).
    service.set_password(user=user, password=password, must_change=True)
    service.end_sessions(user=user)
    record("user.password_reset", object_type="user", object_id=user.id, detail={"username": user.username})
    db.session.commit()
    return render_template("accounts/admin_password_once.html", person=user, password=password, created=False)


@bp.post("/<int:user_id>/unlock")
@require_permission("accounts.manage")
def unlock(user_id: int):
    user = _person(user_id)
    lockout.unlock(session=db.session, username=user.username)
    return _done(user, "user.unlock", _("已解锁 %(name)s", name=user.display_name))


@bp.post("/<int:user_id>/reset-2fa")
@require_permission("accounts.manage")
def reset_totp(user_id: int):
    user = _person(user_id)
    totp.disable(session=db.session, user=user)
    service.end_sessions(user=user)
    return _done(
        user, "user.totp_reset", _("已重置 %(name)s 的动态口令, 下次登录时重新绑定", name=user.display_name)
    )
